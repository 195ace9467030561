"""A command run by a real Celery worker lands in the outbox exactly once."""

from __future__ import annotations

import pytest

from broker.models import OutboundMessage
from plugins.models import BotUser, Invocation, Plugin, PluginCommand, PluginVersion
from plugins.services import command_resolve, invocation_create
from tests.conftest import wait_for
from tests.thebot import the_bot

USER = "05" + "ab" * 32


@pytest.mark.slow
def test_a_ping_invocation_is_answered_by_a_real_worker(celery_worker) -> None:
    plugin = Plugin.objects.create(name="ping")
    version = PluginVersion.objects.create(plugin=plugin, version="1.0.0", entrypoint="sessionbot_builtin.ping:Ping")
    PluginCommand.objects.create(version=version, name="ping")
    plugin.active_version = version
    plugin.save()
    user = BotUser.objects.create(bot=the_bot(), session_id=USER)
    resolved = command_resolve(name="ping")
    assert resolved is not None
    inv = invocation_create(
        key="h1",
        user=user,
        version=resolved.version,
        command="ping",
        arguments="",
        conversation=USER,
        conversation_type="private",
        language="en",
    )
    assert wait_for(lambda: Invocation.objects.get(pk=inv.pk).status == Invocation.Status.OK)
    sends = list(OutboundMessage.objects.filter(invocation=inv).values_list("text", "to"))
    assert sends == [("pong", USER)]
