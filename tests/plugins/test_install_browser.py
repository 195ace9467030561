"""The "Install a plugin" page in a real browser, against a real server and its worker."""

from __future__ import annotations

import json
import uuid

import pytest
from django.contrib.auth.models import User

from adminauth.twofactor import totp_confirm, totp_enroll
from plugins.models import Plugin
from tests.adminauth.browser import chromium_page
from tests.adminauth.conftest import PASSWORD
from tests.adminauth.test_twofactor import _code
from tests.broker.servers import runbroker
from tests.conftest import worker_env
from tests.plugins.test_install import plugin_folder

pytestmark = pytest.mark.slow


def _set(page, field: str, value: str) -> None:
    page.js(f"document.getElementById({json.dumps(field)}).value = {json.dumps(value)}")


def test_an_admin_installs_a_plugin_and_watches_the_job_page_finish(transactional_db, tmp_path) -> None:
    user = User.objects.create_superuser("root", "root@example.org", PASSWORD)
    device = totp_enroll(user=user)
    totp_confirm(device=device, token=None)
    name = f"p{uuid.uuid4().hex[:8]}"
    folder = plugin_folder(tmp_path, name=name)
    with runbroker(env=worker_env()) as (port, _), chromium_page() as page:
        page.goto(f"http://127.0.0.1:{port}/admin/login/")
        for field, value in {"id_username": "root", "id_password": PASSWORD, "id_otp_token": _code(device)}.items():
            _set(page, field, value)
        page.js("document.getElementById('login-form').requestSubmit()")
        page.wait("location.pathname === '/admin/' && document.readyState === 'complete'")

        page.goto(f"http://127.0.0.1:{port}/admin/plugins/plugin/")
        page.js("[...document.querySelectorAll('a')].find(a => a.textContent.includes('Install a plugin')).click()")
        page.wait("location.pathname === '/admin/plugins/plugin/install/' && document.readyState === 'complete'")
        _set(page, "id_source", str(folder))
        page.js("document.getElementById('install-form').requestSubmit()")
        # The job page refreshes itself until the worker has run the install.
        state = page.wait(
            "document.getElementById('job-state') && /succeeded|failed/.test(document.getElementById('job-state')"
            ".textContent) && document.getElementById('job-state').textContent",
            timeout=90,
        )
        log = page.js("document.getElementById('job-log').textContent")
    assert state.strip() == "succeeded", log
    assert "[check]" in log
    assert "[activate]" in log
    assert Plugin.objects.get(name=name).active_version is not None
