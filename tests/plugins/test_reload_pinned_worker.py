"""Pinned code against real Celery workers: after a failed reload, a host started later and
a new worker process still run the last good code; the next good reload takes over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugins.health import RELOAD_FAILED
from plugins.lifecycle import LifecycleError, plugin_reload
from plugins.models import Plugin, PluginVersion
from plugins.snapshots import SNAPSHOT_KEY, code_store, snapshots_clean
from tests.conftest import ROOT, process_stop, worker_env
from tests.plugins.conftest import ask_worker, install
from tests.plugins.test_reload_worker import write

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def hosts_of(worker: int) -> list[int]:
    """The plugin hosts a worker process started (its children running plugins.sandbox.child)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == worker and b"plugins.sandbox.child" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.fixture
def workers(celery_worker) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The first worker; a test may kill it and append the ones it starts (stopped after)."""
    procs = [celery_worker]
    yield procs
    for proc in procs[1:]:
        process_stop(proc, timeout=15)


def worker_replace(procs: list[subprocess.Popen[bytes]]) -> None:
    """Kill the running worker outright (its hosts die with it) and start another."""
    procs[-1].kill()
    procs[-1].wait()
    command = [sys.executable, "-m", "celery", "-A", "sessionbot", "worker", "--pool=solo", "--loglevel=WARNING"]
    procs.append(subprocess.Popen(command, cwd=ROOT, env=worker_env()))


def pinned(name: str) -> str:
    version = Plugin.objects.get(name=name).active_version
    assert version is not None
    return str(version.manifest.get(SNAPSHOT_KEY, ""))


@pytest.mark.parametrize("isolation", [PluginVersion.Isolation.HOST, PluginVersion.Isolation.INLINE])
def test_a_failed_reload_keeps_the_last_good_code_in_new_hosts_and_new_workers(
    plugin_roots, workers, isolation
) -> None:
    write(plugin_roots, "one")
    install("hot", "hotpkg.plugin:Hot", ["hot"], isolation=isolation)
    assert ask_worker("/hot")[0] == "one"
    good = pinned("hot")
    assert (code_store() / "hot" / good / "hotpkg" / "words.py").read_text() == "WORD = 'one'\n"

    write(plugin_roots, "broken", broken=True)
    with pytest.raises(LifecycleError, match="the previous code keeps serving"):
        plugin_reload(plugin=Plugin.objects.get(name="hot"))
    plugin = Plugin.objects.get(name="hot")
    assert plugin.load_state == RELOAD_FAILED
    assert "SyntaxError" in plugin.last_error
    assert pinned("hot") == good

    if isolation == PluginVersion.Isolation.HOST:
        hosts = hosts_of(workers[-1].pid)
        assert hosts
        for pid in hosts:
            os.kill(pid, signal.SIGKILL)  # the next invocation needs a new host
    assert ask_worker("/hot")[0] == "one"
    worker_replace(workers)
    assert ask_worker("/hot")[0] == "one"
    assert Plugin.objects.get(name="hot").load_state == RELOAD_FAILED  # still shown until a reload works

    write(plugin_roots, "fixed")
    assert plugin_reload(plugin=Plugin.objects.get(name="hot")) == "hot reloaded."
    assert ask_worker("/hot")[0] == "fixed"
    assert Plugin.objects.get(name="hot").load_state == "loaded"

    # Only the snapshot a version refers to is kept once the grace period is over.
    snapshots_clean(grace_seconds=0)
    assert [p.name for p in (code_store() / "hot").iterdir()] == [pinned("hot")]
