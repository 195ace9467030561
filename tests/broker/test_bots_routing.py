"""Two bots behind one broker: each message, user, answer and send stays with its bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache

from bots.models import Bot
from broker.models import InboundMessage, OutboundMessage
from broker.outbox import outbox_enqueue_reply
from plugins.api import Reply
from plugins.models import BotPlugin, BotUser, Invocation, PermissionGrant, Plugin, Policy
from tests.broker.conftest import BOT, GROUP, USER, communicator, message, receive, receive_until, say_hello

OTHER_BOT = "05" + "c1" * 32


async def answer_to(comm: WebsocketCommunicator, text: str, **extra: Any) -> dict:
    await comm.send_json_to(message(text, **extra))
    assert (await receive_until(comm, "ack"))["status"] == "accepted"
    return await receive_until(comm, "send")


@pytest.fixture
async def bots(transactional_db: None) -> dict[str, Bot]:
    return {
        "help": await Bot.objects.acreate(name="help", session_id=BOT),
        "family": await Bot.objects.acreate(name="family", session_id=OTHER_BOT, settings={"command_prefix": "!"}),
    }


@pytest.fixture
async def bridges(bots: dict[str, Bot]) -> AsyncIterator[dict[str, WebsocketCommunicator]]:
    found = {"help": communicator(), "family": communicator()}
    await say_hello(found["help"], BOT)
    await say_hello(found["family"], OTHER_BOT)
    yield found
    for comm in found.values():
        await comm.disconnect()


async def test_each_bot_answers_with_its_own_prefix(bridges, builtins) -> None:
    help_answer = await answer_to(bridges["help"], "/nosuch")
    family_answer = await answer_to(bridges["family"], "!nosuch")
    assert help_answer["text"] == "Unknown command /nosuch. Send /help to see what I can do."
    assert family_answer["text"] == "Unknown command !nosuch. Send !help to see what I can do."
    # Each answer went to its own bot's bridge only.
    assert await bridges["help"].receive_nothing(timeout=0.5)
    assert await bridges["family"].receive_nothing(timeout=0.5)


async def test_a_reply_goes_only_to_the_bridge_of_the_bot_that_received_the_message(bridges, builtins) -> None:
    await bridges["family"].send_json_to(message("!ping", mid="family-ping"))
    assert (await receive(bridges["family"]))["status"] == "accepted"
    inv = await Invocation.objects.select_related("bot").aget()
    assert inv.bot.name == "family"
    [row] = await sync_to_async(outbox_enqueue_reply)(invocation=inv, reply=Reply("pong from family"))
    send = await receive_until(bridges["family"], "send")
    assert (send["ref"], send["text"]) == (row.ref, "pong from family")
    assert await bridges["help"].receive_nothing(timeout=1.5)


async def test_a_hello_gets_the_pending_sends_of_its_own_bot_only(bots, builtins) -> None:
    first = communicator()
    await say_hello(first, OTHER_BOT)
    await answer_to(first, "!nosuch")  # pushed and left unconfirmed: still pending
    await first.disconnect()
    help_bridge = communicator()
    await say_hello(help_bridge, BOT)
    assert await help_bridge.receive_nothing(timeout=1.5)
    again = communicator()
    await say_hello(again, OTHER_BOT)
    assert (await receive(again))["text"].startswith("Unknown command !nosuch")
    for comm in (help_bridge, again):
        await comm.disconnect()


async def test_the_same_person_is_a_separate_user_of_each_bot(bridges, bots, builtins) -> None:
    await BotUser.objects.acreate(bot=bots["family"], session_id=USER, language="es")
    await BotUser.objects.acreate(bot=bots["help"], session_id=USER, blocked=True)
    family_answer = await answer_to(bridges["family"], "!nosuch")
    assert family_answer["text"] == "Comando desconocido !nosuch. Envía !help para ver lo que puedo hacer."
    await bridges["help"].send_json_to(message("/nosuch"))
    assert (await receive(bridges["help"]))["status"] == "accepted"
    assert await bridges["help"].receive_nothing(timeout=1)  # blocked with this bot only
    assert await BotUser.objects.filter(session_id=USER).acount() == 2


async def test_a_group_message_reaches_each_bot_in_the_group(bridges, bots, builtins) -> None:
    group = {"conversation": GROUP, "conversation_type": "group", "mid": "one-hash-for-both"}
    for name, text in (("help", "/nosuch"), ("family", "!nosuch")):
        await bridges[name].send_json_to(message(text, **group))
        assert (await receive(bridges[name]))["status"] == "accepted"
        assert (await receive_until(bridges[name], "send"))["to"] == GROUP
    stored = InboundMessage.objects.filter(message_id="one-hash-for-both").values_list("bot__name", flat=True)
    assert sorted([name async for name in stored]) == ["family", "help"]


async def test_a_bot_that_names_its_plugins_offers_those_only(bridges, bots, builtins) -> None:
    await BotPlugin.objects.acreate(bot=bots["family"], plugin=builtins["echo"])
    assert (await answer_to(bridges["family"], "!ping"))["text"].startswith("Unknown command !ping")
    await bridges["help"].send_json_to(message("/ping", mid="help-ping"))
    assert (await receive(bridges["help"]))["status"] == "accepted"
    assert await Invocation.objects.filter(bot=bots["help"], command="ping").aexists()


async def test_admins_grants_and_policies_belong_to_a_bot(bridges, bots, builtins) -> None:
    bots["family"].settings = {"command_prefix": "!", "admins": [USER]}
    await bots["family"].asave()
    await bridges["family"].send_json_to(message("!secret", mid="admin-here"))
    assert (await receive(bridges["family"]))["status"] == "accepted"
    assert (await answer_to(bridges["help"], "/secret"))["text"] == "Sorry, you are not allowed to use /secret."
    # A grant that names the family bot does not count with the help bot.
    user = await BotUser.objects.aget(bot=bots["help"], session_id=USER)
    await PermissionGrant.objects.acreate(plugin=builtins["secret"], user=user, bot=bots["family"])
    assert (await answer_to(bridges["help"], "/secret"))["text"] == "Sorry, you are not allowed to use /secret."
    # A bot's policy for a plugin replaces the plugin's.
    await BotPlugin.objects.acreate(bot=bots["help"], plugin=builtins["ping"], policy=Policy.ADMINS)
    await BotPlugin.objects.acreate(bot=bots["help"], plugin=builtins["secret"])
    assert (await answer_to(bridges["help"], "/ping"))["text"] == "Sorry, you are not allowed to use /ping."
    assert await Invocation.objects.filter(bot=bots["family"], command="secret").aexists()


async def test_each_bot_counts_its_own_rate_limit(bridges, bots, builtins) -> None:
    await sync_to_async(cache.clear)()
    bots["help"].settings = {"rate_limit": {"messages": 1, "window_seconds": 3600}}
    await bots["help"].asave()
    await answer_to(bridges["help"], "/nosuch")
    slow = await answer_to(bridges["help"], "/nosuch")
    assert slow["text"].startswith("You are sending messages too fast")
    assert (await answer_to(bridges["family"], "!nosuch"))["text"].startswith("Unknown command")


async def test_the_default_handler_is_the_bots_own(bridges, bots, builtins) -> None:
    bots["family"].settings = {"command_prefix": "!", "default_handler": "echo"}
    await bots["family"].asave()
    await bridges["family"].send_json_to(message("hello there", mid="plain-family"))
    assert (await receive(bridges["family"]))["status"] == "accepted"
    await bridges["help"].send_json_to(message("hello there", mid="plain-help"))
    assert (await receive(bridges["help"]))["status"] == "accepted"
    routed = InboundMessage.objects.filter(status=InboundMessage.Status.ROUTED).values_list("bot__name", flat=True)
    assert [name async for name in routed] == ["family"]


async def test_a_disabled_bots_bridge_is_refused(bots) -> None:
    bots["family"].enabled = False
    await bots["family"].asave()
    comm = communicator()
    connected, _ = await comm.connect(timeout=20)
    assert connected
    await comm.send_json_to({"type": "hello", "protocol": 1, "bot_id": OTHER_BOT, "client": "tests/1"})
    error = await receive(comm)
    assert (error["type"], error["code"]) == ("error", "bot_disabled")
    assert "family" in error["detail"]
    assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}


async def test_a_bridge_of_an_unknown_identity_registers_its_bot(transactional_db: None) -> None:
    stranger = "05" + "d7" * 32
    comm = communicator()
    await say_hello(comm, stranger)
    await comm.disconnect()
    bot = await Bot.objects.aget(session_id=stranger)
    assert (bot.name, bot.enabled) == ("bridge-d7d7d7d7d7d7", True)


async def test_a_second_hello_on_one_connection_may_not_change_its_bot(bridges) -> None:
    await bridges["help"].send_json_to({"type": "hello", "protocol": 1, "bot_id": OTHER_BOT, "client": "t"})
    error = await receive(bridges["help"])
    assert (error["type"], error["code"]) == ("error", "bad_frame")
    assert not await OutboundMessage.objects.aexists()
    assert not await Plugin.objects.aexists()
