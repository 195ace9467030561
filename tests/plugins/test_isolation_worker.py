"""Isolation against a real Celery worker: every way a plugin fails gets a clear reply,
is recorded, and leaves the next invocation working."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from plugins.models import Invocation, Plugin
from tests.plugins.conftest import ask_worker, install

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def plugins_installed(plugin_roots, transactional_db) -> None:
    shutil.rmtree(Path(settings.PLUGIN_DATA_DIR) / "good", ignore_errors=True)  # storage of earlier runs
    install("good", "fx_good:Good", ["good", "where", "count"])
    install("raises", "fx_raises:Raises", ["boom", "refuse"])
    install("hangs", "fx_hangs:Hangs", ["hang"], timeout_seconds=1.5)
    install("spins", "fx_hangs:Spins", ["spin"], timeout_seconds=30, cpu_seconds=1)
    install("hog", "fx_memory:Hog", ["hog"], memory_mb=128)
    install("crash", "fx_crash:Crash", ["crash"])
    install("snoop", "fx_secrets:Snoop", ["snoop"])
    install("broken", "fx_importerror:Broken", ["broken"])


@pytest.mark.parametrize(
    ("text", "status", "reply"),
    [
        ("/boom", Invocation.Status.FAILED, "Sorry, /boom failed. The bot's operator can see what went wrong."),
        ("/refuse", Invocation.Status.ERROR, "I will not do that."),
        ("/hang", Invocation.Status.TIMEOUT, "Sorry, /hang took longer than 1.5 seconds and was stopped."),
        ("/spin", Invocation.Status.TIMEOUT, "Sorry, /spin used more processor time than it may and was stopped."),
        ("/hog", Invocation.Status.FAILED, "Sorry, /hog needed more memory than it may use and was stopped."),
        ("/crash", Invocation.Status.CRASHED, "Sorry, /crash stopped unexpectedly. Please try again."),
        ("/broken", Invocation.Status.FAILED, "Sorry, /broken is unavailable right now. Please try again later."),
    ],
)
def test_a_failing_plugin_gets_a_clear_reply_and_the_next_invocation_works(
    plugins_installed, celery_worker, text, status, reply
) -> None:
    assert ask_worker(text)[0] == reply
    inv = Invocation.objects.get(command=text[1:])
    assert inv.status == status
    assert inv.error  # what went wrong, for the operator
    assert ask_worker("/good 2 fine")[0] == "fine fine"
    assert ask_worker(text)[0] == reply  # the same plugin fails the same way, not worse


def test_a_plugin_runs_in_its_own_process_without_django_in_its_own_folder(plugins_installed, celery_worker) -> None:
    reply = ask_worker("/where")[0]
    pid, cwd, django = reply.split(" ")
    assert pid != f"pid={celery_worker.pid}"
    assert cwd.endswith("/plugin-data/good")
    assert django == "no-django"


def test_a_plugin_finds_no_secret_in_its_environment(plugins_installed, celery_worker) -> None:
    seen = ask_worker("/snoop")[0].split(" ")
    for secret in ("SECRET_KEY", "DATABASE_URL", "BRIDGE_TOKEN", "SESSION_MNEMONIC", "REDIS_URL", "PLUGIN_ROOTS"):
        assert secret not in seen
    assert "IMPORTED-DJANGO" not in seen
    if os.geteuid() != 0:  # root reads every process's environ; sessionbot should not run as root
        assert not [item for item in seen if item.startswith("PARENT:")]


def test_storage_persists_between_invocations(plugins_installed, celery_worker) -> None:
    assert [ask_worker("/count")[0] for _ in range(3)] == ["1", "2", "3"]


def test_a_plugin_that_does_not_import_is_shown_in_error(plugins_installed, celery_worker) -> None:
    ask_worker("/broken")
    plugin = Plugin.objects.get(name="broken")
    assert plugin.load_state == "error"
    assert "a_module_that_does_not_exist" in plugin.last_error
    assert Plugin.objects.get(name="good").load_state == "unknown"
