"""The durable outbox: replies become OutboundMessage rows; the channel layer only rings."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

from broker.models import OutboundMessage
from plugins.api import Reply
from plugins.models import Invocation

DOORBELL_GROUP = "bridge"


def outbox_ring() -> None:
    """Tell connected consumers that new sends are waiting (best effort; the DB is the record)."""
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(DOORBELL_GROUP, {"type": "outbox.ring"})


def outbox_enqueue_reply(*, invocation: Invocation, reply: Reply) -> list[OutboundMessage]:
    """Store ``reply`` as one or more pending sends; idempotent per invocation."""
    # Minimal until the chunker lands: one part per 2,000 code points.
    size = settings.BOT_CONFIG.chunk_size
    text = reply.text
    parts = [text[i : i + size] for i in range(0, len(text), size)] or [""]
    if not text and not reply.attachments:
        return []
    rows = []
    for index, part in enumerate(parts, start=1):
        row, _ = OutboundMessage.objects.get_or_create(
            ref=f"inv{invocation.pk}-{index}",
            defaults={
                "to": invocation.conversation,
                "text": part,
                "invocation": invocation,
                "part": index,
                "parts": len(parts),
                "reply_to": invocation.reply_to,
            },
        )
        rows.append(row)
    transaction.on_commit(outbox_ring)
    return rows
