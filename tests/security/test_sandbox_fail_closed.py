"""Issue 12, item 3: a root worker never runs a plugin as root unless told to.

When the sandbox cannot be built (here: bubblewrap is missing), the host does not start:
the user is told the command is unavailable, the admin shows the reason as the plugin's
last error, and ``manage.py plugins reload`` prints it. Only
PLUGINS_RUN_UNSANDBOXED_AS_ROOT=true brings back the old behaviour.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from plugins.execution import pool_close
from plugins.models import Invocation, Plugin
from tests.plugins.conftest import ask, install, user

pytestmark = pytest.mark.django_db(transaction=True)
MISSING = "/nonexistent/bwrap"


@pytest.fixture
def root_without_bwrap(plugin_roots, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if os.geteuid() != 0:
        pytest.skip("only a worker running as root refuses to start plugins (needs root)")
    monkeypatch.setattr(settings, "PLUGIN_BWRAP", MISSING, raising=False)
    monkeypatch.setattr(settings, "PLUGINS_RUN_UNSANDBOXED_AS_ROOT", False, raising=False)
    install("good", "fx_good:Good", ["where"])
    user()
    yield
    pool_close()


def test_a_root_worker_that_cannot_confine_a_plugin_does_not_start_it(root_without_bwrap) -> None:
    reply, inv = ask("/where")
    assert reply == "Sorry, /where is unavailable right now. Please try again later."
    assert inv.status == Invocation.Status.FAILED
    assert MISSING in inv.error
    assert "PLUGINS_RUN_UNSANDBOXED_AS_ROOT" in inv.error
    plugin = Plugin.objects.get(name="good")
    assert MISSING in plugin.last_error  # what the admin shows


def test_the_cli_says_why_a_root_worker_does_not_start_a_plugin(root_without_bwrap) -> None:
    with pytest.raises(CommandError, match="cannot confine plugin code"):
        call_command("plugins", "reload", "good")


def test_an_operator_who_opts_in_gets_plugins_run_as_root(root_without_bwrap, monkeypatch) -> None:
    monkeypatch.setattr(settings, "PLUGINS_RUN_UNSANDBOXED_AS_ROOT", True)
    reply, _ = ask("/where")
    assert reply.split()[-1] == "uid=0"
