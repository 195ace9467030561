"""Environment variable checks, as tables: each bad value gives one line naming the variable."""

from __future__ import annotations

import re

import pytest

from sessionbot import envcheck
from sessionbot.envcheck import EnvError


def _message(call) -> str:
    with pytest.raises(EnvError) as caught:
        call()
    return str(caught.value)


@pytest.mark.parametrize(
    ("raw", "default", "expected"),
    [("", True, True), ("yes", False, True), ("OFF", True, False), ("0", True, False)],
)
def test_booleans_accept_the_usual_words(raw, default, expected) -> None:
    assert envcheck.env_bool("DEBUG", raw, default=default) is expected


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: envcheck.env_bool("DEBUG", "maybe", default=False), "DEBUG: 'maybe' is not a boolean"),
        (lambda: envcheck.env_number("CONN_MAX_AGE", "soon", default=1), "CONN_MAX_AGE: 'soon' is not a number"),
        (lambda: envcheck.env_number("CONN_MAX_AGE", "-1", default=1), "CONN_MAX_AGE: '-1' is below the minimum 0"),
        (
            lambda: envcheck.secret_key_check("", debug=False, scaled_out=True),
            "SECRET_KEY: is required when DEBUG is off and REDIS_URL is set",
        ),
        (lambda: envcheck.secret_key_check("short", debug=False, scaled_out=False), "SECRET_KEY: is 5 characters"),
        (lambda: envcheck.allowed_hosts_check(["https://bot.example.org"]), "ALLOWED_HOSTS: 'https://bot.example.org'"),
        (lambda: envcheck.database_check({"ENGINE": "foo"}), "DATABASE_URL: scheme 'foo' is not supported"),
        (lambda: envcheck.database_check({"ENGINE": ""}), "DATABASE_URL: scheme '(none)' is not supported"),
        (
            lambda: envcheck.database_check({"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}),
            "DATABASE_URL: an in-memory SQLite database cannot be shared",
        ),
        (
            lambda: envcheck.database_check({"ENGINE": "django.db.backends.postgresql", "NAME": ""}),
            "DATABASE_URL: names no database",
        ),
        (lambda: envcheck.redis_url_check("http://cache:6379"), "REDIS_URL: scheme 'http' is not redis://"),
        (lambda: envcheck.redis_url_check("redis:///0"), "REDIS_URL: names no host"),
        (lambda: envcheck.redis_url_check("redis://h:port/0"), "REDIS_URL: has a bad port"),
        (lambda: envcheck.redis_url_check("redis://h:6379/zero"), "REDIS_URL: database 'zero' is not a number"),
        (lambda: envcheck.bridge_token_check("short"), "BRIDGE_TOKEN: must be at least 16 ASCII characters"),
        (lambda: envcheck.bridge_token_check("a" * 10 + " " + "b" * 10), "BRIDGE_TOKEN: must be at least 16"),
        (lambda: envcheck.client_name_check("   "), "CLIENT_NAME: '   ' must be 1 to 64 printable characters"),
        (lambda: envcheck.client_name_check("x" * 65), "CLIENT_NAME:"),
        (lambda: envcheck.host_ip_check("localhost"), "HOST_IP: 'localhost' is not an IP address"),
        (lambda: envcheck.log_level_check("loud"), "LOG_LEVEL: 'loud' is not one of DEBUG, INFO"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_reason(call, message) -> None:
    assert _message(call).startswith(message)


def test_a_sqlite_file_in_a_missing_folder_is_refused(tmp_path) -> None:
    message = _message(lambda: envcheck.sqlite_folder_check(str(tmp_path / "missing" / "bot.sqlite3")))
    assert (
        message == f"DATABASE_URL: the folder {tmp_path / 'missing'} of the SQLite file does not exist; create it first"
    )
    assert envcheck.sqlite_folder_check(str(tmp_path / "bot.sqlite3")) == str(tmp_path / "bot.sqlite3")


def test_secrets_are_never_echoed() -> None:
    assert "hunter2" not in _message(lambda: envcheck.bridge_token_check("hunter2"))
    assert "hunter2" not in _message(lambda: envcheck.secret_key_check("hunter2", debug=False, scaled_out=False))
    assert "hunter2" not in _message(lambda: envcheck.plugin_secrets_key_check("hunter2", debug=False))


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: envcheck.secret_key_check("", debug=False, scaled_out=False), ""),
        (lambda: envcheck.secret_key_check("", debug=True, scaled_out=True), ""),
        (lambda: envcheck.secret_key_check("dev", debug=True, scaled_out=True), "dev"),
        (lambda: envcheck.plugin_secrets_key_check("", debug=False), ""),
        (
            lambda: envcheck.plugin_secrets_key_check(f" {'n' * 32} , {'o' * 32} ", debug=False),
            f"{'n' * 32},{'o' * 32}",
        ),
        (lambda: envcheck.plugin_secrets_key_check("dev", debug=True), "dev"),
        (lambda: envcheck.redis_url_check(""), ""),
        (lambda: envcheck.redis_url_check("rediss://u:p@cache.internal:6380/2"), "rediss://u:p@cache.internal:6380/2"),
        (lambda: envcheck.host_ip_check("0.0.0.0"), "0.0.0.0"),
        (lambda: envcheck.host_ip_check("::1"), "::1"),
        (lambda: envcheck.client_name_check(" Weather Bot "), "Weather Bot"),
        (lambda: envcheck.log_level_check("debug"), "DEBUG"),
        (lambda: envcheck.log_level_check(""), "INFO"),
    ],
)
def test_good_values_pass(call, expected) -> None:
    assert call() == expected


@pytest.mark.parametrize(
    ("base", "count", "expected"),
    [("", "", (200000, 65536)), ("300000", "1000", (300000, 1000)), (" 400000 ", "", (400000, 65536))],
)
def test_the_plugin_uid_range_defaults_and_accepts_a_free_range(base, count, expected) -> None:
    assert envcheck.plugin_uid_range_check(base, count, users=[0, 1000, 65534]) == expected


@pytest.mark.parametrize(
    ("base", "count", "users", "reason"),
    [
        ("x", "", [], "PLUGIN_UID_BASE: 'x' is not a number"),
        ("", "many", [], "PLUGIN_UID_COUNT: 'many' is not a number"),
        ("1000", "", [], "PLUGIN_UID_BASE: 1000 is below 100000"),
        ("", "8", [], "PLUGIN_UID_COUNT: 8 must be at least 16"),
        ("2147483000", "", [], "PLUGIN_UID_COUNT: 65536 must be at least 16 and keep the range below"),
        ("", "", [200005], "PLUGIN_UID_BASE: uid 200005 of the range 200000-265535 belongs to a user"),
    ],
)
def test_the_plugin_uid_range_refuses_what_could_be_someone_elses(base, count, users, reason) -> None:
    with pytest.raises(envcheck.EnvError, match=f"^{re.escape(reason)}"):
        envcheck.plugin_uid_range_check(base, count, users=users)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", "UTC"), ("  ", "UTC"), ("Europe/Madrid", "Europe/Madrid"), ("Asia/Shanghai", "Asia/Shanghai")],
)
def test_a_time_zone_is_an_iana_name_and_utc_by_default(raw: str, expected: str) -> None:
    assert envcheck.time_zone_check(raw) == expected


@pytest.mark.parametrize("raw", ["Mars/Olympus", "europe/madrid", "../../etc/passwd", "CEST+2"])
def test_an_unknown_time_zone_is_refused_with_its_variable(raw: str) -> None:
    assert _message(lambda: envcheck.time_zone_check(raw)).startswith(f"TIME_ZONE: {raw!r} is not an IANA time zone")
