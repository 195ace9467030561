"""A bot's history in the database (a user, a message, an invocation, two sends), for the removal and panel tests."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

from django.utils import timezone

from bots.models import Bot
from broker.models import InboundMessage, OutboundMessage
from plugins.models import BotUser, Invocation

USER = "05" + "c3" * 32
_keys = count(1)


def history_add(bot: Bot, *, ago: timedelta = timedelta(0), failed: bool = False) -> Invocation:
    """One conversation turn of ``bot``: a message, its invocation, a sent reply and a pending send."""
    now = timezone.now() - ago
    user, _ = BotUser.objects.get_or_create(bot=bot, session_id=USER)
    key = next(_keys)
    invocation = Invocation.objects.create(
        bot=bot,
        key=f"k{key}",
        user=user,
        command="ping",
        conversation=USER,
        status=Invocation.Status.FAILED if failed else Invocation.Status.OK,
        queued_at=now,
    )
    InboundMessage.objects.create(
        bot=bot,
        message_id=f"m{key}",
        sender=USER,
        conversation=USER,
        conversation_type="private",
        timestamp=int(now.timestamp() * 1000),
        text="/ping",
        status=InboundMessage.Status.ROUTED,
        invocation=invocation,
        received_at=now,
    )
    OutboundMessage.objects.create(
        bot=bot, ref=f"r{key}", to=USER, text="pong", invocation=invocation, status="sent", created_at=now
    )
    OutboundMessage.objects.create(bot=bot, ref=f"p{key}", to=USER, text="later", status="pending", created_at=now)
    return invocation
