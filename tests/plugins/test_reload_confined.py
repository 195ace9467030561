"""The admin's Reload in a process that cannot confine plugin code (not root).

The admin runs as user nobody (``setpriv``), as the shipped deployment's broker does; the
Celery worker runs as root and confines plugin hosts. With PLUGINS_CONFINED_ONLY the admin
(and ``manage.py plugins reload``) hands the reload to the worker and shows its answer, and
the new code serves (``manage.py plugins health`` hands its checks over too); without it
the admin's own process loads the code, as its own user. Needs PostgreSQL and Redis: the
admin's process and the worker share them (SQLite and the filesystem queue live in the
root-only test folders).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from plugins.execution import pool_close
from plugins.models import Plugin, PluginVersion
from plugins.snapshots import version_digest
from tests.conftest import require_server, wait_for, worker_env
from tests.plugins.conftest import BUILTIN, ask_worker, install
from tests.plugins.test_reload_worker import write
from tests.unprivileged import as_nobody, nobody_home, unprivileged_env

__all__ = ["nobody_home"]  # the fixture
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ADMIN_RELOAD = """
import json
import sys

import django

django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.utils import setup_test_environment
from django.urls import reverse

setup_test_environment()
client = Client()
client.force_login(get_user_model().objects.get(username="boss"))
url = reverse("admin:plugins_plugin_changelist")
response = client.post(url, {"action": "reload_plugins", "_selected_action": [sys.argv[1]]}, follow=True)
print(json.dumps([[m.level_tag, str(m)] for m in response.context["messages"]]))
"""


@pytest.fixture
def servers() -> None:
    # The CI's PostgreSQL pass runs it; its embedded pass has no server to share.
    if settings.DATABASE_IS_SQLITE or not settings.REDIS_URL:
        pytest.skip("runs on Redis and PostgreSQL (set DATABASE_URL and REDIS_URL)")
    require_server(settings.REDIS_URL, "Redis")


@pytest.fixture
def hot(servers, nobody_home: Path, monkeypatch: pytest.MonkeyPatch, transactional_db) -> Iterator[Path]:
    """Plugin ``hot`` (in a plugin host) on plugin roots that user nobody may read too."""
    code = nobody_home / "code"
    code.mkdir()
    os.chmod(code, 0o755)
    roots = [code, BUILTIN]
    monkeypatch.setattr(settings, "PLUGIN_ROOTS", roots)
    monkeypatch.setenv("PLUGIN_ROOTS", ",".join(map(str, roots)))
    write(code, "one")
    install("hot", "hotpkg.plugin:Hot", ["hot"], isolation=PluginVersion.Isolation.HOST)
    get_user_model().objects.create_superuser("boss", "boss@example.org", "not-used")
    yield code
    pool_close()


def nobody_env(home: Path, *, confined_only: str) -> dict[str, str]:
    """The test's database, Redis and plugin roots, for a process of user nobody."""
    server = {k: worker_env()[k] for k in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "PLUGIN_ROOTS")}
    return unprivileged_env(home, PLUGINS_CONFINED_ONLY=confined_only, ALLOWED_HOSTS="testserver", **server)


def admin_reload(home: Path, *, confined_only: str) -> list[list[str]]:
    """Press the admin's Reload on ``hot`` in a process of user nobody; the messages shown."""
    pk = str(Plugin.objects.get(name="hot").pk)
    done = as_nobody(["-c", ADMIN_RELOAD, pk], env=nobody_env(home, confined_only=confined_only), timeout=180)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def confined_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """As compose.yaml ships: the setting on in the worker too (it runs as root here)."""
    if os.geteuid() != 0:
        pytest.skip("the worker must run as root to confine plugin hosts")
    monkeypatch.setenv("PLUGINS_CONFINED_ONLY", "true")


def test_the_admins_reload_in_a_process_that_cannot_confine_runs_in_a_worker(
    hot: Path, nobody_home: Path, confined_only, celery_worker
) -> None:
    assert ask_worker("/hot")[0] == "one"
    write(hot, "two")
    assert admin_reload(nobody_home, confined_only="true") == [["success", "hot reloaded."]]
    assert ask_worker("/hot")[0] == "two"

    write(hot, "three")
    cli = as_nobody(["manage.py", "plugins", "reload", "hot"], env=nobody_env(nobody_home, confined_only="true"))
    assert (cli.returncode, cli.stdout.strip()) == (0, "hot reloaded."), cli.stderr
    assert ask_worker("/hot")[0] == "three"

    checks = as_nobody(["manage.py", "plugins", "health"], env=nobody_env(nobody_home, confined_only="true"))
    assert "The health checks were handed to a worker" in checks.stdout, checks.stderr
    assert wait_for(lambda: Plugin.objects.get(name="hot").health_checked_at is not None, timeout=60)

    write(hot, "four", broken=True)
    [[level, message]] = admin_reload(nobody_home, confined_only="true")
    assert level == "error"
    assert "Reloading hot failed; the previous code keeps serving." in message
    assert "SyntaxError" in message  # the worker's own report
    assert ask_worker("/hot")[0] == "three"


def test_without_the_setting_the_admins_own_process_reloads(hot: Path, nobody_home: Path) -> None:
    before = version_digest(version=PluginVersion.objects.get(plugin__name="hot"))
    write(hot, "two")
    # No worker runs: the admin's process (user nobody) loads the new code itself.
    assert admin_reload(nobody_home, confined_only="false") == [["success", "hot reloaded."]]
    assert version_digest(version=PluginVersion.objects.get(plugin__name="hot")) != before
