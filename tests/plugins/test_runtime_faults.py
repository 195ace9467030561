"""The runtime when a platform call, a constructor or an admin edit goes wrong (found by review)."""

from __future__ import annotations

import time

import pytest

from plugins.execution import pool_hosts
from plugins.lifecycle import plugin_action
from plugins.models import Invocation, PluginCommand, PluginVersion
from plugins.sandbox import pool
from tests.plugins.conftest import ask, install, plugin_roots  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)

CALLS_BADLY = """
from plugins.api import Context, Plugin, Reply, command


class CallsBadly(Plugin):
    @command("badcall")
    def badcall(self, ctx: Context) -> Reply:
        ctx.platform.user_language_set(None)  # the service does not expect None: it fails
        return Reply("not reached")

    @command("hello")
    def hello(self, ctx: Context) -> Reply:
        return Reply("hello " + ctx.user_id[:6])
"""

BROKEN_INIT = """
from plugins.api import Context, Plugin, Reply, command


class BrokenInit(Plugin):
    def __init__(self) -> None:
        raise RuntimeError("config file missing")

    @command("broken")
    def broken(self, ctx: Context) -> Reply:
        return Reply("never")
"""


@pytest.mark.parametrize("isolation", ["host", "inline"])
def test_a_failing_platform_call_fails_its_run_and_the_next_gets_its_own_reply(plugin_roots, isolation) -> None:  # noqa: F811
    # In a host, the failure once left the host waiting for the call's answer: the next
    # invocation's request was read as that answer, and the stale run's reply was sent to
    # the next invocation's user.
    (plugin_roots / "fx_callsbadly.py").write_text(CALLS_BADLY)
    install("callsbadly", "fx_callsbadly:CallsBadly", ["badcall", "hello"], isolation=isolation)
    text, inv = ask("/badcall")
    assert "not reached" not in text
    assert inv.status == Invocation.Status.ERROR  # the plugin got an error it could have handled
    text, inv = ask("/hello")
    assert (text, inv.status) == ("hello 05abab", Invocation.Status.OK)


@pytest.mark.parametrize("isolation", ["host", "inline"])
def test_a_plugin_whose_constructor_raises_says_why_and_its_invocation_finishes(plugin_roots, isolation) -> None:  # noqa: F811
    (plugin_roots / "fx_brokeninit.py").write_text(BROKEN_INIT)
    install("brokeninit", "fx_brokeninit:BrokenInit", ["broken"], isolation=isolation)
    text, inv = ask("/broken")
    assert inv.status == Invocation.Status.FAILED  # finished, not left running for the recovery sweep
    assert "RuntimeError: config file missing" in inv.error
    assert text  # the user is told


@pytest.mark.parametrize("isolation", ["host", "inline"])
def test_the_platforms_own_messages_are_in_the_users_language(plugin_roots, isolation) -> None:  # noqa: F811
    install("lang", "sessionbot_builtin.lang:Lang", ["lang"], isolation=isolation)
    text, _ = ask("/lang fr", language="es")
    assert text.startswith("Idioma desconocido fr")


def test_limits_edited_in_the_admin_reach_the_warm_host(plugin_roots) -> None:  # noqa: F811
    version = install("hangs", "fx_hangs:Hangs", ["hang"], timeout_seconds=5)
    version.refresh_from_db()
    assert ask_health(version)  # a host is warm now, with the 5 s limit
    version.timeout_seconds = 1  # as PluginVersionAdmin saves it
    version.save()
    started = time.monotonic()
    text, inv = ask("/hang")
    assert inv.status == Invocation.Status.TIMEOUT
    assert time.monotonic() - started < 4
    assert "1 second" in text


def ask_health(version: PluginVersion) -> bool:
    from plugins.execution import version_request

    version = PluginVersion.objects.select_related("plugin").get(pk=version.pk)
    version_request(version=version, message={"op": "health", "method": None}, on_call=lambda method, args: None)
    return bool(pool_hosts())


def test_the_hosts_of_a_version_no_longer_asked_for_are_closed(plugin_roots, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setattr(pool, "IDLE_SECONDS", 0.0)  # any idle host of another version is old enough
    first = install("good", "fx_good:Good", ["good"], version="1.0.0")
    assert ask("/good")[0] == "ok"
    (old,) = pool_hosts()
    second = PluginVersion.objects.create(plugin=first.plugin, version="2.0.0", entrypoint="fx_good:Good")
    PluginCommand.objects.create(version=second, name="good")
    plugin_action(action="activate", name="good", version="2.0.0")
    text, inv = ask("/good")
    assert (text, inv.plugin_version_id) == ("ok", second.pk)
    assert not old.alive()  # it would have run until the worker stopped
