"""Failed admin logins lock the account (from any address) and the address (for any account)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from tests.adminauth.conftest import PASSWORD

LOGIN = "/admin/login/"
LIMIT = 5  # LOGIN_FAILURE_LIMIT's default


def _login(client: Client, username: str, password: str, address: str) -> int:
    response = client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)
    return response.status_code


def test_an_account_locks_after_the_limit_even_from_varying_addresses(admin_user) -> None:
    client = Client()
    statuses = [_login(client, "root", "wrong", f"203.0.113.{i}") for i in range(LIMIT)]
    assert statuses == [200] * (LIMIT - 1) + [429]
    # The right password from a fresh address is refused while the account is locked.
    response = client.post(LOGIN, {"username": "root", "password": PASSWORD}, REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_address_locks_after_the_limit_even_across_accounts(admin_user, other_admin) -> None:
    client = Client()
    for i in range(LIMIT):
        _login(client, f"guess{i}", "wrong", "203.0.113.9")
    assert _login(client, "ops", PASSWORD, "203.0.113.9") == 429
    assert _login(client, "ops", PASSWORD, "203.0.113.10") == 302  # the account itself is not locked


def test_ipv6_addresses_of_one_64_count_as_one(admin_user) -> None:
    client = Client()
    for i in range(LIMIT):
        _login(client, f"guess{i}", "wrong", f"2001:db8:1:2::{i + 1:x}")
    assert _login(client, "root", PASSWORD, "2001:db8:1:2:ffff::1") == 429
    assert _login(client, "root", PASSWORD, "2001:db8:1:3::1") == 302


def test_a_lock_ends_after_the_cool_off(admin_user) -> None:
    from axes.models import AccessAttempt

    client = Client()
    for _ in range(LIMIT):
        _login(client, "root", "wrong", "203.0.113.5")
    assert _login(client, "root", PASSWORD, "203.0.113.6") == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=1))
    assert _login(client, "root", PASSWORD, "203.0.113.6") == 302


@pytest.mark.parametrize("args", [(), ("--username", "root")])
def test_axes_reset_lifts_a_lock(admin_user, args) -> None:
    client = Client()
    for _ in range(LIMIT):
        _login(client, "root", "wrong", "203.0.113.5")
    assert _login(client, "root", PASSWORD, "203.0.113.6") == 429
    if args:
        call_command("axes_reset_username", "root")
    else:
        call_command("axes_reset")
    assert _login(client, "root", PASSWORD, "203.0.113.6") == 302


def test_a_success_clears_the_earlier_failures(admin_user) -> None:
    client = Client()
    for _ in range(LIMIT - 1):
        _login(client, "root", "wrong", "203.0.113.5")
    assert _login(client, "root", PASSWORD, "203.0.113.5") == 302
    fresh = Client()
    for _ in range(LIMIT - 1):
        assert _login(fresh, "root", "wrong", "203.0.113.5") == 200


@pytest.mark.parametrize(
    ("language", "locked", "field"),
    [
        ("es", "Demasiados inicios de sesión fallidos", "Código de doble factor"),
        ("zh-hans", "登录失败次数过多", "双重验证码"),
    ],
)
def test_the_lockout_page_and_the_code_field_speak_the_admins_language(admin_user, language, locked, field) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    assert field in client.get(LOGIN).content.decode()
    for _ in range(LIMIT):
        response = client.post(LOGIN, {"username": "root", "password": "wrong"}, REMOTE_ADDR="203.0.113.5")
    assert response.status_code == 429
    assert locked in response.content.decode()
