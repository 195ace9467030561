"""The web edge's environment checks, as tables."""

from __future__ import annotations

import pytest

from sessionbot import httpenv
from sessionbot.envcheck import EnvError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("admin/", "admin/"), ("/ops-7f3a", "ops-7f3a/"), ("ops/console/", "ops/console/"), (" x.y~z_1 ", "x.y~z_1/")],
)
def test_admin_path_is_normalised_to_a_django_prefix(raw, expected) -> None:
    assert httpenv.admin_path_check(raw) == expected


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: httpenv.admin_path_check(""), "ADMIN_PATH: '' is not a URL path"),
        (lambda: httpenv.admin_path_check("/"), "ADMIN_PATH: '/' is not a URL path"),
        (lambda: httpenv.admin_path_check("a b/"), "ADMIN_PATH: 'a b/' is not a URL path"),
        (lambda: httpenv.admin_path_check("x/../y"), "ADMIN_PATH: 'x/../y' is not a URL path"),
        (lambda: httpenv.admin_path_check("a//b"), "ADMIN_PATH: 'a//b' is not a URL path"),
        (lambda: httpenv.admin_path_check("https://x/"), "ADMIN_PATH: 'https://x/' is not a URL path"),
        (lambda: httpenv.admin_path_check("metrics/admin"), "ADMIN_PATH: 'metrics/admin' would hide /metrics"),
        (lambda: httpenv.admin_path_check("static/"), "ADMIN_PATH: 'static/' would hide /static"),
        (lambda: httpenv.trusted_proxies_check(["nginx"]), "TRUSTED_PROXIES: 'nginx' is not an IP address"),
        (
            lambda: httpenv.csrf_trusted_origins_check(["bot.example.org"]),
            "CSRF_TRUSTED_ORIGINS: 'bot.example.org' is not an origin",
        ),
        (
            lambda: httpenv.csrf_trusted_origins_check(["https://bot.example.org/admin"]),
            "CSRF_TRUSTED_ORIGINS: 'https://bot.example.org/admin' is not an origin",
        ),
    ],
)
def test_a_bad_value_names_the_variable(call, message) -> None:
    with pytest.raises(EnvError) as caught:
        call()
    assert str(caught.value).startswith(message)


def test_trusted_proxies_take_addresses_and_networks() -> None:
    assert httpenv.trusted_proxies_check(["127.0.0.1", " ::1", "10.0.0.0/8", ""]) == ["127.0.0.1", "::1", "10.0.0.0/8"]


def test_csrf_trusted_origins_take_scheme_and_host() -> None:
    origins = ["https://bot.example.org", "https://*.example.org", "http://127.0.0.1:8000"]
    assert httpenv.csrf_trusted_origins_check(origins) == origins


@pytest.mark.parametrize(
    ("remote", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::"),
        ("[2001:db8:1:2::1]", "2001:db8:1:2::"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("", ""),
    ],
)
def test_login_failures_count_ipv6_clients_by_their_64(remote, counted_as) -> None:
    assert httpenv.client_address(remote) == counted_as
