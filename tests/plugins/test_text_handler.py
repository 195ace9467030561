"""Plain text goes to the default handler's ``Plugin.on_text``, through a real worker."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from broker.models import InboundMessage, OutboundMessage
from plugins.api import Context, Plugin
from plugins.commandline import command_parse
from plugins.loader import plugin_class_load
from plugins.models import Invocation
from plugins.models import Plugin as PluginRow
from plugins.testing import PluginRunner
from tests.broker.conftest import communicator, message, receive, receive_until, say_hello
from tests.conftest import wait_for
from tests.plugins.conftest import BUILTIN, FIXTURES, install

CHATTY = "fx_chatty:Chatty"


def default_handler(name: str, entrypoint: str, commands: list[str]) -> None:
    install(name, entrypoint, commands)
    PluginRow.objects.filter(name=name).update(default_handler=True)


def test_the_fixture_sends_plain_text_to_on_text(plugin_runner: PluginRunner) -> None:
    chatty = plugin_class_load(entrypoint=CHATTY, roots=[FIXTURES])
    assert plugin_runner(chatty, "hello  there\n").text == "You said: hello  there\n ('', en)"
    assert plugin_runner(chatty, "be rude").text == "I will not."
    assert plugin_runner(chatty, "/chatty").text == "I answer plain text."


def test_only_an_override_counts_as_a_text_handler() -> None:
    class Quiet(Plugin):
        pass

    class Talks(Plugin):
        def on_text(self, ctx: Context, text: str) -> str:
            return text

    assert (Quiet.has_text_handler(), Talks.has_text_handler()) == (False, True)


async def plain_text(text: str, mid: str) -> list[dict[str, Any]]:
    """Send ``text`` as a user would; return what the bot sent back once its invocation ended."""
    comm = communicator()
    await say_hello(comm)
    try:
        await comm.send_json_to(message(text, mid=mid))
        assert (await receive_until(comm, "ack"))["status"] == "accepted"
        inbound = await InboundMessage.objects.aget(message_id=mid)
        if inbound.invocation_id is None:
            return []
        finished = sync_to_async(wait_for)
        ended = lambda: Invocation.objects.get(pk=inbound.invocation_id).status in Invocation.FINISHED  # noqa: E731
        assert await finished(ended, timeout=60)
        count = await OutboundMessage.objects.filter(invocation_id=inbound.invocation_id).acount()
        # A new connection is sent every unconfirmed send again: keep only this message's.
        sends: list[dict[str, Any]] = []
        while len(sends) < count:
            send = await receive_until(comm, "send")
            if send.get("reply_to", {}).get("id") == mid:
                sends.append(send)
        return sends
    finally:
        await comm.disconnect()


@pytest.mark.slow
async def test_plain_text_is_answered_by_the_default_handlers_on_text(plugin_roots, celery_worker) -> None:
    await sync_to_async(default_handler)("chatty", CHATTY, ["chatty"])
    (send,) = await plain_text("hello bot", "plain-1")
    assert send["text"] == "You said: hello bot ('', en)"
    (refusal,) = await plain_text("be rude", "plain-2")
    assert refusal["text"] == "I will not."


@pytest.mark.slow
async def test_a_default_handler_without_on_text_answers_nothing(plugin_roots, celery_worker) -> None:
    await sync_to_async(default_handler)("good", "fx_good:Good", ["good"])
    assert await plain_text("hello bot", "plain-3") == []
    inv = await Invocation.objects.aget()
    assert (inv.status, inv.command) == ("failed", "")


async def test_plain_text_without_a_default_handler_gets_nothing(plugin_roots, transactional_db) -> None:
    await sync_to_async(install)("chatty", CHATTY, ["chatty"])
    comm = communicator()
    await say_hello(comm)
    await comm.send_json_to(message("hello bot", mid="plain-4"))
    assert (await receive(comm))["status"] == "accepted"
    await comm.disconnect()
    assert (await InboundMessage.objects.aget(message_id="plain-4")).status == "ignored"
    assert await Invocation.objects.acount() == 0


@pytest.mark.parametrize(
    ("text", "reply"),
    [("/echo  two spaces", "two spaces"), ("/echo\ta tab", "a tab"), ("/Echo Capital", "Capital")],
)
def test_the_fixture_reads_a_command_as_the_router_does(plugin_runner: PluginRunner, text: str, reply: str) -> None:
    # It split on one space only and kept the name's case: "/Echo hi" was an unknown command
    # in the test and answered in the bot.
    parsed = command_parse(text, prefix="/")
    assert parsed is not None
    assert parsed.arguments == reply  # what the bot hands the plugin
    echo = plugin_class_load(entrypoint="sessionbot_builtin.echo:Echo", roots=[BUILTIN])
    assert plugin_runner(echo, text).text == reply
