"""Issue 12, item 2: a plugin's processes are capped and none outlives its host.

RLIMIT_NPROC counts the processes of the plugin's own uid and the host's cgroup has a
pids.max; the host is PID 2 of a PID namespace whose init is bubblewrap's, so when the host
dies, by itself or killed, the kernel kills every process left in it, even one that
called setsid().
"""

from __future__ import annotations

import pytest
from django.conf import settings

from plugins.execution import pool_close
from tests.conftest import wait_for
from tests.security.sandbox import ask_with, hostile, marked, marked_kill, new_marker, sandbox_required

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_fork_bomb_is_capped_and_its_children_end_with_the_host(plugin_roots) -> None:
    sandbox_required(cgroups=True)
    hostile()
    marker = new_marker()
    try:
        reply = ask_with("hostile", "/forkbomb", tries=400, marker=marker)
        count = int(reply.split()[1])
        assert count < settings.PLUGIN_MAX_PROCESSES
        pool_close()
        assert wait_for(lambda: not marked(marker), timeout=5)
    finally:
        marked_kill(marker)


@pytest.mark.parametrize("how", ["exit", "segv"])
def test_a_setsid_grandchild_dies_with_a_host_that_dies_by_itself(plugin_roots, how) -> None:
    sandbox_required()
    hostile()
    marker = new_marker()
    try:
        reply = ask_with("hostile", "/escape", marker=marker, how=how)
        assert reply == "Sorry, /escape stopped unexpectedly. Please try again."
        assert wait_for(lambda: not marked(marker), timeout=5)
    finally:
        marked_kill(marker)
