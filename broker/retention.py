"""The retention purge: content older than ``retention.content_days`` is erased.

What goes: the text, author name, attachments and quote of messages, the arguments,
attachments, quote and error text of finished invocations, the text and attachments of
replies, and the attachment files no row names any more. What stays: every row, with
its bot, Session hash, times, status, plugin, command and duration, which the metrics
and the duplicate check read. A message not yet routed and a reply not yet confirmed are
left until they are done. Each batch is one short transaction of at most
``retention.batch_size`` rows; a purge stopped halfway loses nothing, and the next one
goes on where it stopped (each batch picks rows that still hold content).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from broker.attachmentfiles import attachment_files_orphaned, attachment_in_use, attachments_folder
from broker.models import InboundMessage, OutboundMessage
from plugins.models import Invocation
from plugins.userdata import invocation_content
from sessionbot.botconfig import Retention

MESSAGE_CONTENT: dict[str, object] = {"text": "", "author_name": "", "attachments": [], "reply_to": None}
INVOCATION_CONTENT: dict[str, object] = {"arguments": "", "attachments": [], "reply_to": None, "error": ""}
log = logging.getLogger(__name__)
REPLY_CONTENT: dict[str, object] = {"text": "", "attachments": [], "reply_to": None, "last_error": ""}


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    """Rows (and files) whose content a purge erased, or would erase."""

    messages: int = 0
    invocations: int = 0
    replies: int = 0
    files: int = 0


def _messages(cutoff: datetime) -> QuerySet[InboundMessage]:
    content = ~Q(text="") | ~Q(author_name="") | ~Q(attachments=[]) | Q(reply_to__isnull=False)
    done = ~Q(status=InboundMessage.Status.ACCEPTED)
    return InboundMessage.objects.filter(content & done, received_at__lt=cutoff)


def _invocations(cutoff: datetime) -> QuerySet[Invocation]:
    ended = Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True, queued_at__lt=cutoff)
    return Invocation.objects.filter(invocation_content() & ended, status__in=Invocation.FINISHED)


def _replies(cutoff: datetime) -> QuerySet[OutboundMessage]:
    content = ~Q(text="") | ~Q(attachments=[]) | Q(reply_to__isnull=False) | ~Q(last_error="")
    return OutboundMessage.objects.filter(content, created_at__lt=cutoff).exclude(status=OutboundMessage.Status.PENDING)


def _batches(rows: QuerySet[Model], *, empty: dict[str, object], size: int) -> int:
    """Empty ``rows`` ``size`` at a time, each batch in a transaction of its own."""
    erased = 0
    model = rows.model
    while ids := list(rows.order_by("pk").values_list("pk", flat=True)[:size]):
        with transaction.atomic():
            erased += model._default_manager.filter(pk__in=ids).update(**empty)
    return erased


def content_purge(*, retention: Retention, now: datetime | None = None, dry_run: bool = False) -> PurgeCounts:
    """Erase the content older than ``retention`` allows; with ``dry_run`` only count it."""
    if retention.content_days is None:
        return PurgeCounts()
    cutoff = (now or timezone.now()) - timedelta(days=retention.content_days)
    messages, invocations, replies = _messages(cutoff), _invocations(cutoff), _replies(cutoff)
    if dry_run:
        orphans = _orphans_after_purge(cutoff=cutoff)
        return PurgeCounts(messages.count(), invocations.count(), replies.count(), orphans)
    size = retention.batch_size
    counts = PurgeCounts(
        messages=_batches(messages, empty=MESSAGE_CONTENT, size=size),
        invocations=_batches(invocations, empty=INVOCATION_CONTENT, size=size),
        replies=_batches(replies, empty=REPLY_CONTENT, size=size),
    )
    files = 0
    while found := attachment_files_orphaned(older_than=cutoff.timestamp(), limit=size):
        for digest in found:
            (attachments_folder() / digest).unlink(missing_ok=True)
        files += len(found)
    return PurgeCounts(counts.messages, counts.invocations, counts.replies, files)


def _orphans_after_purge(*, cutoff: datetime) -> int:
    """Files a purge would delete: old ones that only rows it would empty name."""
    folder = attachments_folder()
    if not folder.is_dir():
        return 0
    leaving_inbound = Q(pk__in=_messages(cutoff).values("pk"))
    leaving_invocations = Q(pk__in=_invocations(cutoff).values("pk"))
    count = 0
    for path in folder.iterdir():
        if len(path.name) != 64 or path.stat().st_mtime >= cutoff.timestamp():
            continue
        named = attachment_in_use(
            digest=path.name, inbound_leaving=leaving_inbound, invocations_leaving=leaving_invocations
        )
        count += not named
    return count


def retention_purge_tick() -> PurgeCounts:
    """One purge from ``runbroker``'s own thread, on a connection that may have gone stale."""
    close_old_connections()
    started = time.monotonic()
    try:
        counts = content_purge(retention=settings.BOT_CONFIG.retention)
    finally:
        close_old_connections()
    if any((counts.messages, counts.invocations, counts.replies, counts.files)):
        log.info("retention purge: %s in %.1f s", counts, time.monotonic() - started)
    return counts
