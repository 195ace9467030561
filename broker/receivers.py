"""Connects the plugin runtime's results to the outbox."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from broker.outbox import outbox_enqueue_reply
from plugins.api import Reply
from plugins.models import Invocation
from plugins.signals import invocation_replied


@receiver(invocation_replied)
def _reply_to_outbox(sender: Any, *, invocation: Invocation, reply: Reply, **_: Any) -> None:
    outbox_enqueue_reply(invocation=invocation, reply=reply)
