"""The two-factor login page in a real browser against a real server."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User

from adminauth.twofactor import totp_confirm, totp_enroll
from tests.adminauth.browser import chromium_page
from tests.adminauth.conftest import PASSWORD
from tests.adminauth.test_twofactor import _code
from tests.broker.servers import runbroker
from tests.conftest import worker_env

pytestmark = pytest.mark.slow


@pytest.fixture
def _fast_hasher() -> None:
    """The server process hashes with the real hasher, so the account must too."""


def _fill(page, token: str) -> None:
    fields = {"id_username": "root", "id_password": PASSWORD, "id_otp_token": token}
    for field, value in fields.items():
        page.js(f"document.getElementById({json.dumps(field)}).value = {json.dumps(value)}")
    page.js("document.getElementById('login-form').requestSubmit()")


def test_an_enrolled_admin_logs_in_through_the_page_with_the_apps_code(transactional_db) -> None:
    user = User.objects.create_superuser("root", "root@example.org", PASSWORD)
    device = totp_enroll(user=user)
    totp_confirm(device=device, token=None)
    with runbroker("--no-worker", env=worker_env()) as (port, _), chromium_page() as page:
        page.goto(f"http://127.0.0.1:{port}/admin/login/")
        label = page.js("document.querySelector('label[for=id_otp_token]').textContent")
        assert "Two-factor code" in label
        assert page.js("document.getElementById('id_otp_token').autocomplete") == "one-time-code"

        _fill(page, "")
        error = page.wait("document.querySelector('.errornote') && document.querySelector('.errornote').textContent")
        assert "Enter the code from your authenticator app" in error
        assert page.js("location.pathname") == "/admin/login/"

        _fill(page, _code(device))
        page.wait("location.pathname === '/admin/' && document.readyState === 'complete'")
        assert "Site administration" in page.js("document.body.innerText")
