"""What a user gets for what they send: hints, refusals, rate limits, filters, default handler."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.test import override_settings

from broker.models import InboundMessage
from plugins.models import BotGroup, BotUser, Invocation, PermissionGrant, Plugin, PluginCommand
from sessionbot.botconfig import BotConfig, RateLimit
from tests.broker.conftest import GROUP, OTHER, USER, message, receive, receive_until
from tests.thebot import athe_bot


async def answer_to(bridge, text: str, **extra) -> dict:
    await bridge.send_json_to(message(text, **extra))
    assert (await receive_until(bridge, "ack"))["status"] == "accepted"
    return await receive_until(bridge, "send")


async def test_an_unknown_command_gets_a_hint_to_help(bridge, builtins) -> None:
    send = await answer_to(bridge, "/weather Paris")
    assert send["text"] == "Unknown command /weather. Send /help to see what I can do."
    assert send["to"] == USER


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("es", "Comando desconocido /weather. Envía /help para ver lo que puedo hacer."),
        ("zh-hans", "未知命令 /weather。发送 /help 查看我能做什么。"),
    ],
)
async def test_the_hint_speaks_the_users_language(bridge, builtins, language, expected) -> None:
    await BotUser.objects.acreate(bot=await athe_bot(), session_id=USER, language=language)
    assert (await answer_to(bridge, "/weather"))["text"] == expected


async def test_a_command_for_admins_is_refused_to_others(bridge, builtins) -> None:
    send = await answer_to(bridge, "/secret")
    assert send["text"] == "Sorry, you are not allowed to use /secret."
    assert not await Invocation.objects.aexists()


async def test_a_grant_lets_a_user_run_a_restricted_command(bridge, builtins) -> None:
    user = await BotUser.objects.acreate(bot=await athe_bot(), session_id=USER)
    await PermissionGrant.objects.acreate(plugin=builtins["secret"], user=user)
    await bridge.send_json_to(message("/secret now", mid="granted"))
    assert (await receive(bridge))["status"] == "accepted"
    inv = await Invocation.objects.aget()
    assert (inv.command, inv.arguments, inv.key) == ("secret", "now", f"msg:{user.bot_id}:granted")


async def test_a_blocked_user_gets_nothing(bridge, builtins) -> None:
    await BotUser.objects.acreate(bot=await athe_bot(), session_id=USER, blocked=True)
    await bridge.send_json_to(message("/nosuch"))
    assert (await receive(bridge))["status"] == "accepted"
    assert await bridge.receive_nothing(timeout=0.5)


async def test_a_message_updates_the_users_last_seen_to_the_minute(bridge) -> None:
    await bridge.send_json_to(message("hi", author_name="Ana"))
    await receive(bridge)
    first = await BotUser.objects.aget(session_id=USER)
    hour_ago = first.last_seen - timedelta(hours=1)
    await BotUser.objects.filter(pk=first.pk).aupdate(last_seen=hour_ago)
    await bridge.send_json_to(message("hi again", mid="m-2"))
    await receive(bridge)
    second = await BotUser.objects.aget(session_id=USER)
    assert first.display_name == "Ana"
    assert second.last_seen >= first.last_seen > hour_ago


async def test_plain_text_without_a_default_handler_gets_nothing(bridge, builtins) -> None:
    await bridge.send_json_to(message("just chatting"))
    assert (await receive(bridge))["status"] == "accepted"
    assert await bridge.receive_nothing(timeout=0.5)
    assert (await InboundMessage.objects.aget()).status == "ignored"


async def test_plain_text_goes_to_the_default_handler(bridge, builtins) -> None:
    await Plugin.objects.filter(name="echo").aupdate(default_handler=True)
    await bridge.send_json_to(message("just chatting", mid="chat"))
    await receive(bridge)
    inv = await Invocation.objects.select_related("plugin_version__plugin").aget()
    assert inv.plugin_version is not None
    assert (inv.plugin_version.plugin.name, inv.command, inv.arguments) == ("echo", "", "just chatting")


async def test_the_rate_limit_says_slow_down_once_then_drops(bridge, builtins) -> None:
    await sync_to_async(cache.clear)()
    config = BotConfig(rate_limit=RateLimit(messages=2, window_seconds=3600))
    with override_settings(BOT_CONFIG=config):
        hints = [await answer_to(bridge, "/nosuch") for _ in range(2)]
        slow = await answer_to(bridge, "/nosuch")
        await bridge.send_json_to(message("/nosuch"))
        assert (await receive(bridge))["status"] == "accepted"
        assert await bridge.receive_nothing(timeout=0.5)
        other = await answer_to(bridge, "/nosuch", sender=OTHER, conversation=OTHER)
    assert all(h["text"].startswith("Unknown command") for h in hints)
    assert slow["text"] == "You are sending messages too fast. Please wait a few seconds and try again."
    assert other["text"].startswith("Unknown command")


async def test_the_command_prefix_comes_from_the_config(bridge, builtins) -> None:
    with override_settings(BOT_CONFIG=BotConfig(command_prefix="!")):
        send = await answer_to(bridge, "!nosuch")
    assert send["text"] == "Unknown command !nosuch. Send !help to see what I can do."


@sync_to_async
def set_filters(name: str, filters: dict) -> None:
    PluginCommand.objects.filter(name=name).update(filters=filters)


async def test_a_private_only_command_is_not_run_in_a_group(bridge, builtins) -> None:
    await set_filters("ping", {"conversation_type": "private"})
    send = await answer_to(bridge, "/ping", conversation=GROUP, conversation_type="group")
    assert send["text"] == "/ping is not available in this conversation."
    assert send["to"] == GROUP
    await bridge.send_json_to(message("/ping", mid="private-ping"))
    await receive(bridge)
    assert await Invocation.objects.filter(command="ping").acount() == 1


async def test_a_group_filter_needs_membership(bridge, builtins) -> None:
    await set_filters("ping", {"groups": ["testers"]})
    send = await answer_to(bridge, "/ping")
    assert "not available" in send["text"]
    group = await BotGroup.objects.acreate(name="testers")
    user = await BotUser.objects.aget(session_id=USER)
    await sync_to_async(group.members.add)(user)
    await bridge.send_json_to(message("/ping", mid="member-ping"))
    await receive(bridge)
    assert await Invocation.objects.filter(command="ping").acount() == 1
