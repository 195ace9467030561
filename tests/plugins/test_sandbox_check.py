"""The start-up warning that a root worker without bubblewrap will refuse plugins."""

from __future__ import annotations

import os

import pytest

from plugins.checks import sandbox_check

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="the check speaks only to a root worker (run as root)")


@root_only
def test_a_root_worker_without_bubblewrap_is_warned_at_start(settings) -> None:
    settings.PLUGIN_BWRAP = "/nonexistent/bwrap"
    settings.PLUGINS_RUN_UNSANDBOXED_AS_ROOT = False
    [warning] = sandbox_check()
    assert warning.id == "plugins.W001"
    assert "will be refused" in warning.msg
    assert "/nonexistent/bwrap" in warning.msg


@root_only
def test_no_warning_when_the_sandbox_can_be_built_or_the_operator_opted_out(settings) -> None:
    settings.PLUGIN_BWRAP = "/nonexistent/bwrap"
    settings.PLUGINS_RUN_UNSANDBOXED_AS_ROOT = True
    assert sandbox_check() == []
    settings.PLUGINS_RUN_UNSANDBOXED_AS_ROOT = False
    settings.PLUGIN_BWRAP = "/bin/sh"  # any program that runs stands in for bubblewrap
    assert sandbox_check() == []
