"""Fixtures for broker tests: installed plugins and a bridge talking to the real application."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings

from broker.message_routing import commands_cache_clear
from broker.models import InboundMessage
from plugins.models import BotUser, Invocation, Plugin, PluginCommand, PluginVersion, Policy
from sessionbot.asgi import application
from tests.thebot import the_bot

BOT = "05" + "b0" * 32
USER = "05" + "ab" * 32
OTHER = "05" + "cd" * 32
GROUP = "03" + "ef" * 32
_ids = itertools.count(1)


def plugin_install(name: str, entrypoint: str, commands: list[str], **fields: Any) -> Plugin:
    plugin = Plugin.objects.create(name=name, **fields)
    version = PluginVersion.objects.create(plugin=plugin, version="1.0.0", entrypoint=entrypoint, isolation="inline")
    for command in commands:
        PluginCommand.objects.create(version=version, name=command)
    plugin.active_version = version
    plugin.save()
    return plugin


@pytest.fixture(autouse=True)
def _fresh_command_cache() -> None:
    """The database is emptied between tests without signals; so must the routing cache be."""
    commands_cache_clear()


@pytest.fixture
def builtins(transactional_db: None) -> dict[str, Plugin]:
    """ping and echo for everyone; ``secret`` (the ping plugin again) for admins only."""
    return {
        "ping": plugin_install("ping", "sessionbot_builtin.ping:Ping", ["ping"]),
        "echo": plugin_install("echo", "sessionbot_builtin.echo:Echo", ["echo"]),
        "secret": plugin_install("secret", "sessionbot_builtin.ping:Ping", ["secret"], default_policy=Policy.ADMINS),
    }


def message(text: str = "/ping", *, sender: str = USER, mid: str | None = None, **extra: Any) -> dict[str, Any]:
    frame = {
        "type": "message",
        "id": mid or f"hash-{next(_ids)}",
        "from": sender,
        "conversation": sender,
        "conversation_type": "private",
        "timestamp": 1_700_000_000_000,
        "text": text,
    }
    frame.update(extra)
    return frame


def communicator(token: str | None = None) -> WebsocketCommunicator:
    headers = [] if token == "" else [(b"authorization", f"Bearer {token or settings.BRIDGE_TOKEN}".encode())]
    return WebsocketCommunicator(application, "/ws/bridge/", headers=headers)


async def receive(comm: WebsocketCommunicator, timeout: float = 20) -> dict[str, Any]:
    return json.loads(await comm.receive_from(timeout=timeout))


async def receive_until(comm: WebsocketCommunicator, frame_type: str, timeout: float = 30) -> dict[str, Any]:
    """Skip frames of other types (sends pushed while we wait for an ack, say)."""
    while True:
        frame = await receive(comm, timeout)
        if frame["type"] == frame_type:
            return frame


async def say_hello(comm: WebsocketCommunicator, bot_id: str = BOT) -> None:
    connected, _ = await comm.connect(timeout=20)
    assert connected
    await comm.send_json_to({"type": "hello", "protocol": 1, "bot_id": bot_id, "client": "tests/1"})
    assert await receive(comm) == {"type": "welcome", "protocol": 1}


@pytest.fixture
async def bridge(transactional_db: None) -> AsyncIterator[WebsocketCommunicator]:
    comm = communicator()
    await say_hello(comm)
    yield comm
    await comm.disconnect()


def stored(plugin: Plugin, mid: str, **fields: object) -> Invocation:
    """A routed message whose invocation a dead worker left behind (no task in the queue)."""
    user, _ = BotUser.objects.get_or_create(bot=the_bot(), session_id=USER)
    inv = Invocation.objects.create(
        bot=the_bot(),
        key=f"msg:{mid}",
        user=user,
        plugin_version=plugin.active_version,
        command="ping",
        conversation=USER,
        **fields,
    )
    InboundMessage.objects.create(
        bot=the_bot(),
        message_id=mid,
        sender=USER,
        conversation=USER,
        conversation_type="private",
        timestamp=1,
        text="/ping",
        status="routed",
        invocation=inv,
    )
    return inv
