"""A plugin's output reaches the worker's log bounded, escaped and under its own name.

What a plugin host prints (``print``, ``sys.stderr``, its ``logging``) went to the
worker's stderr unchanged: 10 MB as one line, and lines that looked like the broker's own.
"""

from __future__ import annotations

import logging
import re
import time

import pytest

from plugins.execution import pool_close
from plugins.models import Invocation
from tests.plugins.conftest import ask, install

pytestmark = pytest.mark.django_db(transaction=True)
UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def test_a_flooding_plugin_cannot_flood_or_forge_the_workers_log(plugin_roots, caplog) -> None:
    install("flood", "fx_flood:Flood", ["flood", "manylines"])
    caplog.set_level(logging.INFO, logger="plugins.output")
    started = time.monotonic()
    text, inv = ask("/flood")
    elapsed = time.monotonic() - started
    pool_close()  # the host ends: its reader logs what is left and stops
    lines = [r.getMessage() for r in caplog.records if r.name == "plugins.output"]

    assert (text, inv.status) == ("still here", Invocation.Status.OK)
    assert elapsed < 10
    assert lines, "nothing of the plugin's output reached the log"
    assert all(line.startswith("plugin flood: ") for line in lines)
    assert not [line for line in lines if UNSAFE.search(line)]
    assert max(len(line) for line in lines) < 2100
    assert sum(map(len, lines)) < 20_000  # of 10 MB printed
    assert f"plugin flood: {'x' * 2000} [{10_000_000 - 2000} more characters cut]" in lines
    assert "plugin flood: ERROR broker: fake" in lines
    assert "plugin flood: \\x1b[2Jcleared\\u2028WARNING broker: fake too\\x00" in lines
    assert "plugin flood: not utf-8 \\xff\\xfe here" in lines
    assert "plugin flood: WARNING plugins.flood: from logging\\rERROR broker: fake three" in lines


def test_past_its_budget_a_plugins_lines_are_counted_not_logged(plugin_roots, caplog) -> None:
    install("flood", "fx_flood:Flood", ["flood", "manylines"])
    caplog.set_level(logging.INFO, logger="plugins.output")
    started = time.monotonic()
    text, inv = ask("/manylines")
    elapsed = time.monotonic() - started
    pool_close()
    lines = [r.getMessage() for r in caplog.records if r.name == "plugins.output"]

    assert (text, inv.status) == ("done", Invocation.Status.OK)
    assert elapsed < 10
    assert 1000 < len(lines) < 5000  # a minute's budget of one-character lines, not five million
    assert lines[-1].startswith("plugin flood: [")
    assert lines[-1].endswith(" lines dropped: more than 262144 characters in 60 s]")
    assert int(lines[-1].split("[")[1].split()[0]) + len(lines) - 1 == 5_000_000
