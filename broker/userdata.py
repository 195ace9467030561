"""The broker's part of a user's data: their messages, the replies to them, their files.

Registered with :mod:`bots.userdata` (``BrokerConfig.ready``). Rows are not deleted but
emptied: a message keeps its Session hash (so a copy sent again is still recognised and
never answered twice), its bot, times and status (the metrics); its text, author name,
attachments, quote and sender go. A message still waiting to be routed and a reply still
waiting for the bridge's confirmation are left to finish: routing and delivery need them.
The retention purge empties them once their retention period is over.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet

from bots.models import Bot
from broker.attachmentfiles import attachment_digests, attachment_files_delete
from broker.models import InboundMessage, OutboundMessage
from plugins.models import Invocation

BATCH = 500


def _inbound(bot: Bot, session_id: str) -> QuerySet[InboundMessage]:
    return InboundMessage.objects.filter(bot=bot, sender=session_id)


def _inbound_done(bot: Bot, session_id: str) -> Q:
    """The user's messages the broker no longer needs: routed, answered or ignored."""
    return Q(bot=bot, sender=session_id) & ~Q(status=InboundMessage.Status.ACCEPTED)


def _replies(bot: Bot, session_id: str) -> QuerySet[OutboundMessage]:
    mine = Q(to=session_id) | Q(invocation__user__bot=bot, invocation__user__session_id=session_id)
    return OutboundMessage.objects.filter(Q(bot=bot) & mine)


def _invocations_done(bot: Bot, session_id: str) -> Q:
    return Q(bot=bot, user__session_id=session_id, status__in=Invocation.FINISHED)


def _files(attachments: object) -> list[dict[str, Any]]:
    items = attachments if isinstance(attachments, list) else []
    keep = ("name", "content_type", "size", "sha256")
    return [{key: item.get(key) for key in keep} for item in items if isinstance(item, dict)]


def messages_export(bot: Bot, session_id: str) -> dict[str, Any]:
    """The user's messages to ``bot`` and the bot's replies to them, oldest first."""
    messages = [
        {
            "received_at": row.received_at.isoformat(),
            "conversation_type": row.conversation_type,
            "status": row.status,
            "text": row.text,
            "author_name": row.author_name,
            "attachments": _files(row.attachments),
        }
        for row in _inbound(bot, session_id).order_by("received_at", "pk")
    ]
    replies = [
        {
            "created_at": row.created_at.isoformat(),
            "status": row.status,
            "text": row.text,
            "attachments": [{"name": a["name"], "content_type": a["content_type"]} for a in _files(row.attachments)],
        }
        for row in _replies(bot, session_id).order_by("created_at", "pk")
    ]
    return {"messages": messages, "replies": replies}


def messages_erase(bot: Bot, session_id: str) -> dict[str, int]:
    """Empty the user's finished messages and delivered (or failed) replies, in batches."""
    inbound = 0
    done = InboundMessage.objects.filter(_inbound_done(bot, session_id))
    while ids := list(done.order_by("pk").values_list("pk", flat=True)[:BATCH]):
        with transaction.atomic():
            rows = InboundMessage.objects.filter(pk__in=ids)
            rows.filter(conversation=session_id).update(conversation="")
            inbound += rows.update(text="", author_name="", attachments=[], reply_to=None, sender="")
    outbound = 0
    replies = _replies(bot, session_id).exclude(status=OutboundMessage.Status.PENDING)
    replies = replies.filter(_has_reply_content() | Q(to=session_id))
    while ids := list(replies.order_by("pk").values_list("pk", flat=True)[:BATCH]):
        with transaction.atomic():
            sent = OutboundMessage.objects.filter(pk__in=ids)
            sent.filter(to=session_id).update(to="")
            outbound += sent.update(text="", attachments=[], reply_to=None, last_error="")
    return {"messages": inbound, "replies": outbound}


def _has_reply_content() -> Q:
    return ~Q(text="") | ~Q(attachments=[]) | Q(reply_to__isnull=False) | ~Q(last_error="")


def files_export(bot: Bot, session_id: str) -> dict[str, Any]:
    """The files the user sent that the deployment keeps, by digest."""
    lists = _inbound(bot, session_id).exclude(attachments=[]).values_list("attachments", flat=True)
    return {"files": sorted(attachment_digests(lists=lists))}


def files_erase(bot: Bot, session_id: str) -> dict[str, int]:
    """Delete the files of the user's finished messages that nobody else's row names.

    Runs before the rows are emptied, which forgets the digests.
    """
    inbound = InboundMessage.objects.filter(_inbound_done(bot, session_id)).exclude(attachments=[])
    invocations = Invocation.objects.filter(_invocations_done(bot, session_id)).exclude(attachments=[])
    digests = attachment_digests(lists=inbound.values_list("attachments", flat=True))
    digests |= attachment_digests(lists=invocations.values_list("attachments", flat=True))
    deleted = attachment_files_delete(
        digests=digests,
        inbound_leaving=_inbound_done(bot, session_id),
        invocations_leaving=_invocations_done(bot, session_id),
    )
    return {"files": deleted}
