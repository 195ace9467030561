"""Every admin page, in every language, in a real Chromium against a real server.

One server and one browser for all pages: the admin's front page, each registered model's
list, add page and the seeded row's page, and the bot's page, in English, Spanish and
Chinese. A page fails on a server error, a status other than 200, a console error, or
English left in a translated page (``tests.adminauth.pagetext``). Screenshots go to
``tests/.artifacts/screenshots/``; ``UPDATE_README_SCREENSHOT=1`` also writes the front
page's to ``docs/images/dashboard.png`` for the README.
"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import RequestFactory
from django.urls import reverse

from tests.adminauth.adminseed import DATA_WORDS, admin_rows_seed
from tests.adminauth.browser import Page, chromium_page
from tests.adminauth.conftest import PASSWORD
from tests.adminauth.pagetext import english_left
from tests.broker.servers import runbroker
from tests.conftest import ROOT, worker_env
from tests.thebot import the_bot

pytestmark = pytest.mark.slow

LANGUAGES = ("en", "es", "zh-hans")
SHOTS = ROOT / "tests" / ".artifacts" / "screenshots"
README_SHOT = ROOT / "docs" / "images" / "dashboard.png"


@pytest.fixture
def _fast_hasher() -> None:
    """The server process hashes with the real hasher, so the account must too."""


def _admin_pages(user: User) -> list[tuple[str, str]]:
    """(name, path) of every page to open: the front page, the bot's page, then per model."""
    request = RequestFactory().get("/")
    request.user = user
    pages = [("index", reverse("admin:index")), ("bot", reverse("admin:bots_bot_change", args=[the_bot().pk]))]
    pages.append(("plugin-install", reverse("admin:plugins_plugin_install")))
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        name = f"{opts.app_label}-{opts.model_name}"
        pages.append((f"{name}-list", reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")))
        if model_admin.has_add_permission(request):
            pages.append((f"{name}-add", reverse(f"admin:{opts.app_label}_{opts.model_name}_add")))
        row = model._default_manager.order_by("pk").first()
        assert row is not None, f"nothing seeded for {name}"
        pages.append((f"{name}-change", reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk])))
    return pages


def _log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/admin/login/")
    for field, value in {"id_username": "root", "id_password": PASSWORD}.items():
        page.js(f"document.getElementById({json.dumps(field)}).value = {json.dumps(value)}")
    page.js("document.getElementById('login-form').requestSubmit()")
    page.wait("location.pathname === '/admin/' && document.readyState === 'complete'")


def _problems(page: Page, url: str) -> list[str]:
    """Server errors, a page status other than 200, and console errors since the last call."""
    found = []
    for event in page.events:
        method, params = event["method"], event.get("params", {})
        if method == "Network.responseReceived":
            response = params["response"]
            if response["status"] >= 500 or (response["url"] == url and response["status"] != 200):
                found.append(f"HTTP {response['status']} {response['url']}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            found.append(
                "console: " + " ".join(str(arg.get("value", arg.get("description"))) for arg in params["args"])
            )
        elif method == "Runtime.exceptionThrown":
            found.append("exception: " + params["exceptionDetails"].get("text", ""))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            found.append("console: " + params["entry"]["text"])
    page.events.clear()
    return found


def _shoot(page: Page, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    shot = page.call("Page.captureScreenshot", format="png")["result"]["data"]
    path.write_bytes(base64.b64decode(shot))


def test_every_admin_page_works_and_is_translated_in_every_language(transactional_db) -> None:
    root = User.objects.create_superuser("root", "root@example.org", PASSWORD)
    admin_rows_seed()
    pages = _admin_pages(root)
    failures: list[str] = []
    english: dict[str, str] = {}
    with runbroker("--no-worker", env=worker_env()) as (port, _), chromium_page() as page:
        base = f"http://127.0.0.1:{port}"
        for domain in ("Network", "Runtime", "Log"):
            page.call(f"{domain}.enable")
        page.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
        _log_in(page, base)
        # The browser's own name shows in the login records: data too.
        data = DATA_WORDS | set(re.findall(r"[A-Za-z]+", page.js("navigator.userAgent")))
        for language in LANGUAGES:
            page.js(f"document.cookie = 'django_language={language}; path=/'")
            for name, path in pages:
                url = base + path
                page.events.clear()
                page.js("window.leaving = true")
                page.call("Page.navigate", url=url)
                page.wait("!window.leaving && document.readyState === 'complete'")
                if page.js("location.href") != url:
                    failures.append(f"{language} {path}: redirected to {page.js('location.href')}")
                text = page.js("document.body.innerText")
                failures += [f"{language} {path}: {problem}" for problem in _problems(page, url)]
                if language == "en":
                    english[name] = text
                else:
                    left = english_left(translated=text, english=english[name], language=language, data=frozenset(data))
                    failures += [f"{language} {path}: English left: {line!r}" for line in left]
                _shoot(page, SHOTS / language / f"{name}.png")
                if name == "index" and language == "en" and os.environ.get("UPDATE_README_SCREENSHOT") == "1":
                    _shoot(page, README_SHOT)
    assert not failures, "\n".join(failures)
