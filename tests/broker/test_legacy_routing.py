"""Commands with a prefix of their own (an older bot's ``!echo``) are routed beside ``/`` commands."""

from __future__ import annotations

import pytest

from plugins.models import Invocation, Plugin, PluginCommand, PluginVersion
from tests.broker.conftest import message, receive


@pytest.fixture
def parrot(builtins) -> Plugin:
    """An older bot's plugin answering !echo, beside the built-in /echo."""
    plugin = Plugin.objects.create(name="parrot")
    version = PluginVersion.objects.create(plugin=plugin, version="0.1.0", entrypoint="parrot:Plugin", api="legacy")
    PluginCommand.objects.create(version=version, name="echo", prefix="!")
    plugin.active_version = version
    plugin.save()
    return plugin


async def routed(bridge, text: str, mid: str) -> Invocation | None:
    await bridge.send_json_to(message(text, mid=mid))
    assert (await receive(bridge))["status"] == "accepted"
    return (
        await Invocation.objects.select_related("plugin_version__plugin")
        .filter(inbound_message__message_id=mid)
        .afirst()
    )


async def test_the_word_with_its_own_prefix_goes_to_its_plugin_and_the_bots_command_to_the_bot(bridge, parrot) -> None:
    older = await routed(bridge, "!echo hi there", "m-older")
    assert older is not None
    assert older.plugin_version is not None
    assert (older.plugin_version.plugin.name, older.command, older.arguments) == ("parrot", "echo", "hi there")
    ours = await routed(bridge, "/echo hi", "m-ours")
    assert ours is not None
    assert ours.plugin_version is not None
    assert (ours.plugin_version.plugin.name, ours.command, ours.arguments) == ("echo", "echo", "hi")


async def test_a_word_after_the_prefix_that_no_command_answers_is_plain_text(bridge, parrot) -> None:
    assert await routed(bridge, "!wow, that works", "m-wow") is None
    assert await bridge.receive_nothing(timeout=0.5)  # no default handler: nothing is said


async def test_without_a_command_bringing_it_the_prefix_means_nothing(bridge, builtins) -> None:
    assert await routed(bridge, "!echo hi", "m-none") is None
    assert await bridge.receive_nothing(timeout=0.5)
