"""Two-factor admin login: enrolled admins give a code; ADMIN_OTP_REQUIRED makes it mandatory."""

from __future__ import annotations

import io
import re
import time

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from adminauth.twofactor import backup_codes_issue, totp_confirm, totp_enroll
from tests.adminauth.conftest import PASSWORD

LOGIN = "/admin/login/"


def _code(device: TOTPDevice, offset: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + offset * device.step
    return f"{totp.token():06d}"


@pytest.fixture
def enrolled(admin_user, settings) -> TOTPDevice:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # no pause after a wrong code (django-otp's own throttle)
    device = totp_enroll(user=admin_user)
    assert totp_confirm(device=device, token=None)
    device.refresh_from_db()
    return device


def _login(client: Client, token: str = "") -> int:
    response = client.post(LOGIN, {"username": "root", "password": PASSWORD, "otp_token": token})
    return response.status_code


def test_an_admin_without_a_device_logs_in_with_the_password(admin_user) -> None:
    client = Client()
    assert _login(client) == 302
    assert client.get("/admin/").status_code == 200


def test_an_enrolled_admin_needs_a_valid_code(enrolled) -> None:
    client = Client()
    response = client.post(LOGIN, {"username": "root", "password": PASSWORD})
    assert response.status_code == 200
    assert "Enter the code from your authenticator app" in response.content.decode()
    assert _login(client, "000000" if _code(enrolled) != "000000" else "111111") == 200
    assert client.get("/admin/").status_code == 302  # still not in
    assert _login(client, _code(enrolled)) == 302
    assert client.get("/admin/").status_code == 200
    assert _login(Client(), _code(enrolled)) == 200  # a code is good for one login


def test_a_backup_code_works_once(enrolled, admin_user) -> None:
    code = backup_codes_issue(user=admin_user)[0]
    assert _login(Client(), code) == 302
    assert _login(Client(), code) == 200


def test_wrong_codes_count_as_failed_logins(enrolled) -> None:
    client = Client()
    wrong = "000000" if _code(enrolled) != "000000" else "111111"
    statuses = [_login(client, wrong) for _ in range(5)]
    assert statuses[-1] == 429
    assert _login(client, _code(enrolled)) == 429


def test_a_password_only_session_ends_when_its_admin_enrolls(admin_user) -> None:
    client = Client()
    assert _login(client) == 302
    device = totp_enroll(user=admin_user)
    totp_confirm(device=device, token=None)
    assert client.get("/admin/").status_code == 302


def test_required_two_factor_refuses_an_admin_without_a_device(admin_user, settings) -> None:
    settings.ADMIN_OTP_REQUIRED = True
    client = Client()
    response = client.post(LOGIN, {"username": "root", "password": PASSWORD})
    assert response.status_code == 200
    assert "manage.py otp_enroll root" in response.content.decode()
    assert client.get("/admin/").status_code == 302


def test_otp_enroll_prints_a_qr_code_and_uri_and_confirms_with_a_code(admin_user, monkeypatch) -> None:
    out = io.StringIO()

    class _Stdin:
        def readline(self) -> str:
            device = TOTPDevice.objects.get(user=admin_user)
            return _code(device) + "\n"

    monkeypatch.setattr("sys.stdin", _Stdin())
    call_command("otp_enroll", "root", stdout=out)
    text = out.getvalue()
    uri = re.search(r"otpauth://totp/\S+", text)
    assert uri
    assert "secret=" in uri.group(0)
    assert "█" in text or "▀" in text  # the QR code drawn in the terminal
    device = TOTPDevice.objects.get(user=admin_user)
    assert device.confirmed
    codes = text.rsplit(":", 1)[1].split()
    assert len(codes) == 10
    assert _login(Client(), codes[0]) == 302


def test_otp_enroll_refuses_a_wrong_code_and_enrolls_nothing(admin_user, monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("nonsense\n"))
    with pytest.raises(CommandError, match="not valid"):
        call_command("otp_enroll", "root", stdout=io.StringIO())
    assert not TOTPDevice.objects.filter(user=admin_user, confirmed=True).exists()
    assert _login(Client()) == 302


def test_the_admin_lists_devices_and_draws_a_devices_qr_code(admin_user) -> None:
    device = totp_enroll(user=admin_user)  # unconfirmed: the password alone still logs in
    client = Client()
    assert _login(client) == 302
    listing = client.get("/admin/otp_totp/totpdevice/")
    assert listing.status_code == 200
    assert "root" in listing.content.decode()
    qr = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/qrcode/")
    assert qr.status_code == 200
    assert qr["Content-Type"].startswith("image/svg+xml")
