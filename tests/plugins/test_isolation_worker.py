"""Isolation against a real Celery worker: every way a plugin fails gets a clear reply,
is recorded, and leaves the next invocation working."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from plugins.lifecycle import plugin_reload
from plugins.models import Invocation, Plugin
from tests.conftest import wait_for
from tests.plugins.conftest import ask_worker, install
from tests.plugins.test_reload_pinned_worker import hosts_of

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def plugins_installed(plugin_roots, transactional_db) -> None:
    shutil.rmtree(Path(settings.PLUGIN_DATA_DIR) / "good", ignore_errors=True)  # storage of earlier runs
    install("good", "fx_good:Good", ["good", "where", "count", "tamper"])
    install("raises", "fx_raises:Raises", ["boom", "refuse"])
    install("hangs", "fx_hangs:Hangs", ["hang"], timeout_seconds=1.5)
    install("spins", "fx_hangs:Spins", ["spin"], timeout_seconds=30, cpu_seconds=1)
    install("hog", "fx_memory:Hog", ["hog"], memory_mb=128)
    install("crash", "fx_crash:Crash", ["crash"])
    install("snoop", "fx_secrets:Snoop", ["snoop"])
    install("broken", "fx_importerror:Broken", ["broken"])
    install("forks", "fx_forks:Forks", ["spawn", "spawnhang"], timeout_seconds=1.5)


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


def host_uid(name: str = "good") -> int:
    """The user plugin hosts run as: the plugin's own uid for a root worker, else the worker's."""
    if os.geteuid() != 0:
        return os.geteuid()
    return int(settings.PLUGIN_UID_BASE + Plugin.objects.get(name=name).pk)


def test_a_plugin_runs_in_its_own_process_without_django_in_its_own_folder(plugins_installed, celery_worker) -> None:
    reply = ask_worker("/where")[0]
    pid, cwd, django, uid = reply.split(" ")
    assert pid != f"pid={celery_worker.pid}"
    assert cwd.endswith("/plugin-data/good")
    assert django == "no-django"
    assert uid == f"uid={host_uid()}"
    assert host_uid() != 0


def snoop(files: list[str]) -> list[str]:
    Plugin.objects.filter(name="snoop").update(config={"files": files})
    return ask_worker("/snoop")[0].split("\n")


def test_a_plugin_finds_no_secret_in_its_environment_or_the_workers_proc(plugins_installed, celery_worker) -> None:
    seen = snoop([])
    for secret in ("SECRET_KEY", "DATABASE_URL", "BRIDGE_TOKEN", "SESSION_MNEMONIC", "REDIS_URL", "PLUGIN_ROOTS"):
        assert secret not in seen
    assert "IMPORTED-DJANGO" not in seen
    # A root worker's host is in a PID namespace of its own, as another uid: its parent is
    # bubblewrap's init (root). A worker that is not root is not dumpable (same user).
    proc = [line for line in seen if line.startswith(("READ:/proc/", "DENIED:/proc/"))]
    assert proc
    assert all(line.startswith("DENIED:") and line.endswith(":PermissionError") for line in proc)


@pytest.mark.skipif(
    os.geteuid() != 0, reason="a plugin host of a non-root worker runs as the worker's user and can read its files"
)
def test_a_plugin_of_a_root_worker_reads_no_secret_file_and_cannot_edit_its_code(
    plugins_installed, celery_worker
) -> None:
    data = Path(settings.DATA_DIR)
    files = [str(data / "secret_key"), str(data / "bridge_token")]
    if connection.vendor == "sqlite":
        files += [str(connection.settings_dict["NAME"]), f"{connection.settings_dict['NAME']}-wal"]
    seen = snoop(files)
    assert [line for line in seen if line.startswith("READ:")] == []
    # Not even there: the host's mount namespace holds no data/ but its own folder.
    denied = [line.rsplit(":", 1)[1] for line in seen if line.startswith("DENIED:")]
    assert denied == ["PermissionError"] * 2 + ["FileNotFoundError"] * len(files)
    assert ask_worker("/tamper")[0] == "read-only"
    assert ask_worker("/count")[0] == "1"  # its own folder stays writable


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def seen_from_outside(pid: int, *, uid: int) -> int | None:
    """The pid (as this test sees it) of the process of ``uid`` that a plugin knows as ``pid``
    (a root worker's host has a PID namespace of its own)."""
    for entry in Path("/proc").iterdir():
        try:
            status = dict(line.split(":", 1) for line in (entry / "status").read_text().splitlines() if ":" in line)
        except (OSError, ValueError):
            continue
        if int(status["Uid"].split()[0]) == uid and int(status.get("NSpid", status["Pid"]).split()[-1]) == pid:
            return int(entry.name)
    return None


def test_processes_and_threads_a_plugin_leaves_behind_end_with_its_host(plugins_installed, celery_worker) -> None:
    children = Path(settings.PLUGIN_DATA_DIR) / "forks" / "children"
    uid = host_uid("forks")
    assert ask_worker("/spawnhang")[0] == "Sorry, /spawnhang took longer than 1.5 seconds and was stopped."
    assert wait_for(lambda: seen_from_outside(int(children.read_text()), uid=uid) is None, timeout=10)

    assert ask_worker("/spawn")[0] == "spawned"
    child, hosts = seen_from_outside(int(children.read_text()), uid=uid), hosts_of(celery_worker.pid)
    assert child is not None
    assert running(child)
    assert hosts
    plugin_reload(plugin=Plugin.objects.get(name="forks"))
    assert ask_worker("/spawn")[0] == "spawned"  # the old host is retired: its child and thread go
    assert wait_for(lambda: not running(child) and not any(running(pid) for pid in hosts), timeout=10)


def test_storage_persists_between_invocations(plugins_installed, celery_worker) -> None:
    assert [ask_worker("/count")[0] for _ in range(3)] == ["1", "2", "3"]


def test_a_plugin_that_does_not_import_is_shown_in_error(plugins_installed, celery_worker) -> None:
    ask_worker("/broken")
    plugin = Plugin.objects.get(name="broken")
    assert plugin.load_state == "error"
    assert "a_module_that_does_not_exist" in plugin.last_error
    assert Plugin.objects.get(name="good").load_state == "unknown"
