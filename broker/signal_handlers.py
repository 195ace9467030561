"""Connects the plugin runtime's results to the outbox."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from bots.live import live_bot_forget
from bots.models import Bot
from broker.message_routing import commands_cache_clear
from broker.outbox import outbox_enqueue_interim, outbox_enqueue_reply
from plugins.api import Reply
from plugins.models import BotPlugin, Invocation, PermissionGrant, Plugin, PluginCommand, PluginVersion
from plugins.signals import invocation_replied, invocation_sent


@receiver(invocation_replied)
def _reply_to_outbox(sender: Any, *, invocation: Invocation, reply: Reply, **_: Any) -> None:
    outbox_enqueue_reply(invocation=invocation, reply=reply)


@receiver(invocation_sent)
def _interim_to_outbox(sender: Any, *, invocation: Invocation, reply: Reply, sequence: int, **_: Any) -> None:
    outbox_enqueue_interim(invocation=invocation, reply=reply, sequence=sequence)


@receiver([post_save, post_delete], sender=Plugin)
@receiver([post_save, post_delete], sender=PluginVersion)
@receiver([post_save, post_delete], sender=PluginCommand)
@receiver([post_save, post_delete], sender=PermissionGrant)
@receiver([post_save, post_delete], sender=BotPlugin)
def _forget_cached_commands(sender: Any, **_: Any) -> None:
    # Other processes see the change when their one-second cache expires.
    commands_cache_clear()


@receiver([post_save, post_delete], sender=Bot)
def _forget_cached_bots(sender: Any, **_: Any) -> None:
    live_bot_forget()
    commands_cache_clear()
