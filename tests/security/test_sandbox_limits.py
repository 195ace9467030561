"""Issue 12, item 1: the memory and CPU limits bind a plugin that tries to lift them.

The limits are hard (soft = hard) before any plugin code runs, the host's cgroup caps the
memory of its whole process tree, and the worker measures each invocation's CPU time from
the cgroup while it waits: raising the soft RLIMIT_CPU buys nothing.
"""

from __future__ import annotations

import pytest

from plugins.execution import pool_close
from plugins.models import Invocation
from tests.security.sandbox import ask_with, hostile, sandbox_required

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_plugin_that_lifts_its_memory_limit_still_gets_the_memory_reply(plugin_roots) -> None:
    sandbox_required(cgroups=True)
    hostile(memory_mb=96)
    reply = ask_with("hostile", "/bigalloc", mb=400)
    assert reply == "Sorry, /bigalloc needed more memory than it may use and was stopped."
    assert Invocation.objects.get(command="bigalloc").status == Invocation.Status.FAILED
    pool_close()


def test_a_plugin_that_lifts_its_cpu_limit_is_still_stopped_at_its_budget(plugin_roots) -> None:
    sandbox_required(cgroups=True)
    hostile(cpu_seconds=1, timeout_seconds=30)
    reply = ask_with("hostile", "/spin", seconds=8)
    assert reply == "Sorry, /spin used more processor time than it may and was stopped."
    inv = Invocation.objects.get(command="spin")
    assert inv.status == Invocation.Status.TIMEOUT
    assert inv.duration_ms is not None
    assert inv.duration_ms < 6000  # stopped near its 1 s budget, not after spinning 8 s
    pool_close()
