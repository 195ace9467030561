"""The durable outbox: replies become OutboundMessage rows; the channel layer only rings.

A row stays ``pending`` until the bridge confirms it with ``sent`` or gives up with
``failed`` and ``retry`` false. Every ref is stable, so storing the same reply again (a
re-run after a crash) finds the rows already there instead of answering twice.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from bots.live import bot_config
from bridgeprotocol.logformat import log_fields
from broker import doorbell
from broker.chunker import chunk_text
from broker.models import OutboundMessage
from plugins.api import Reply
from plugins.models import Invocation
from sessionbot.botconfig import BotConfig
from sessionbot.dbbatch import writes_batched

log = logging.getLogger(__name__)

DOORBELL_GROUP = "bridge"
RETRY_BASE_SECONDS = 2.0
RETRY_MAX_SECONDS = 300.0


def send_frame(row: OutboundMessage) -> dict[str, Any]:
    """The protocol's ``send`` frame for an outbox row."""
    frame: dict[str, Any] = {"type": "send", "ref": row.ref, "to": row.to, "text": row.text}
    if row.attachments:
        frame["attachments"] = row.attachments
    if row.reply_to:
        frame["reply_to"] = row.reply_to
    return frame


def doorbell_group(bot: int) -> str:
    """The channel-layer group of the consumers serving bot ``bot``: its rings go there only."""
    return f"{DOORBELL_GROUP}.bot{bot}"


class _Doorbell:
    """Rings the consumers from synchronous code through one event loop thread per process.

    The channel layer keeps its Redis connections per event loop: ringing through a fresh
    loop each time (``async_to_sync`` in a worker thread) opened a connection per ring.
    A ring names the refs of the committed sends (never their content: see
    ``broker.doorbell``) and goes to the consumers of their bot only; a consumer reads
    those rows from the outbox and pushes the ones still pending. Rings coalesce: the sends
    committed while one ring is on its way go out together in the next; past ``MAX_REFS``
    the ring is bare ("poll the outbox").
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._pending = False
        self._refs: dict[int, list[str]] = {}
        self._poll: set[int] = set()

    def ring(self, layer: Any, bot: int, refs: list[str]) -> None:
        with self._lock:
            waiting = self._refs.setdefault(bot, [])
            if bot in self._poll or len(waiting) + len(refs) > doorbell.MAX_REFS:
                self._poll.add(bot)
                waiting.clear()
            else:
                waiting.extend(refs)
            if self._pending:
                return
            self._pending = True
        asyncio.run_coroutine_threadsafe(self._send(layer), self._loop_get())

    def _loop_get(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="outbox-doorbell", daemon=True).start()
                self._loop = loop
            return self._loop

    async def _send(self, layer: Any) -> None:
        with self._lock:  # from now on a commit rings again
            events = {bot: doorbell.ring_event(refs=refs, poll=bot in self._poll) for bot, refs in self._refs.items()}
            self._refs, self._poll, self._pending = {}, set(), False
        for bot, event in events.items():
            try:
                await layer.group_send(doorbell_group(bot), event)
            except Exception:
                log.warning("outbox doorbell could not ring; the bridge gets the send at the next poll", exc_info=True)


_doorbell = _Doorbell()


def outbox_ring(rows: list[OutboundMessage]) -> None:
    """Tell connected consumers that the sends ``rows`` were committed (best effort; the
    database is the record, and the consumers read the sends from it)."""
    layer = get_channel_layer()
    if layer is None or isinstance(layer, InMemoryChannelLayer):
        # In-memory rings reach only this process, whose consumers poll anyway; skip the cost.
        return
    by_bot: dict[int, list[str]] = {}
    for row in rows:
        by_bot.setdefault(row.bot_id, []).append(row.ref)
    for bot, refs in by_bot.items():
        _doorbell.ring(layer, bot, refs)


def _store_parts(
    *,
    bot: int,
    config: BotConfig | None = None,
    ref_base: str,
    to: str,
    text: str,
    attachments: list[dict[str, object]],
    reply_to: dict[str, object] | None,
    invocation: Invocation | None,
) -> list[OutboundMessage]:
    config = config or bot_config(bot)
    texts = chunk_text(text, size=config.chunk_size, markers=config.part_markers) if text else [""]
    rows = [
        OutboundMessage(
            ref=f"{ref_base}-{index}",
            bot_id=bot,
            to=to,
            text=part,
            invocation=invocation,
            part=index,
            parts=len(texts),
            reply_to=reply_to if index == 1 else None,
            # Files travel with the first part, the one that answers the message.
            attachments=attachments if index == 1 else [],
        )
        for index, part in enumerate(texts, start=1)
    ]
    # One statement; a ref stored before (a re-run) is left as it was, so nothing is sent twice.
    OutboundMessage.objects.bulk_create(rows, ignore_conflicts=True)
    # A re-run rings its parts again: the bridge answers a ref it sent before with ``sent``.
    transaction.on_commit(lambda: outbox_ring(rows))
    return rows


def outbox_enqueue_reply(
    *, invocation: Invocation, reply: Reply, config: BotConfig | None = None
) -> list[OutboundMessage]:
    """Store a plugin's ``reply`` as pending sends, cut by ``config`` (its bot's; read now
    when None); idempotent per invocation (rows unsaved on a repeat)."""
    return _store_reply(
        ref_base=f"inv{invocation.pk}",
        invocation=invocation,
        reply=reply,
        reply_to=invocation.reply_to,
        config=config,
    )


def outbox_enqueue_interim(*, invocation: Invocation, reply: Reply, sequence: int) -> list[OutboundMessage]:
    """Store message number ``sequence`` that a running invocation sends before its answer.

    Idempotent per invocation and sequence: a re-run's first messages find theirs stored.
    Their rows come before the answer's, so they go out before it, in order.
    """
    return _store_reply(ref_base=f"inv{invocation.pk}m{sequence}", invocation=invocation, reply=reply, reply_to=None)


def _store_reply(
    *,
    ref_base: str,
    invocation: Invocation,
    reply: Reply,
    reply_to: dict[str, object] | None,
    config: BotConfig | None = None,
) -> list[OutboundMessage]:
    if not reply.text and not reply.attachments:
        return []
    attachments: list[dict[str, object]] = [
        {
            "name": a.name,
            "content_type": a.content_type,
            "size": len(a.data),
            "data_b64": base64.b64encode(a.data).decode("ascii"),
        }
        for a in reply.attachments
    ]
    return _store_parts(
        bot=invocation.bot_id,
        config=config,
        ref_base=ref_base,
        to=invocation.conversation,
        text=reply.text,
        attachments=attachments,
        reply_to=reply_to,
        invocation=invocation,
    )


def outbox_enqueue_answer(
    *,
    bot: int,
    message_id: str,
    to: str,
    text: str,
    reply_to: dict[str, object] | None = None,
    config: BotConfig | None = None,
) -> list[OutboundMessage]:
    """Store bot ``bot``'s own answer to message ``message_id`` (a hint, a refusal), cut
    into parts by ``config`` (the bot's, read now when None: a batch that only writes
    passes the one it read)."""
    # The message hash may be 128 characters: a digest keeps the ref short and stable. A
    # group message reaches every bot in the group under one hash: the ref names the bot.
    digest = hashlib.sha256(f"{bot}:{message_id}".encode()).hexdigest()[:32]
    return _store_parts(
        bot=bot,
        config=config,
        ref_base=f"b{digest}",
        to=to,
        text=text,
        attachments=[],
        reply_to=reply_to,
        invocation=None,
    )


@dataclass(frozen=True, slots=True)
class Due:
    """What a poll found: the sends to push, the highest id seen, whether it hit its limit."""

    rows: list[OutboundMessage]
    high_id: int
    more: bool


def outbox_due(
    *,
    bot: int,
    after_id: int = 0,
    retry_refs: frozenset[str] = frozenset(),
    limit: int = 500,
    due_only: bool = True,
    skip_refs: frozenset[str] = frozenset(),
) -> Due:
    """Bot ``bot``'s pending sends, oldest first: those above ``after_id`` and the ``retry_refs``.

    ``due_only`` leaves out sends waiting for their retry backoff (a reconnect sends all).
    Rows whose ref is in ``skip_refs`` (pushed already, awaiting their confirm) are counted
    and seen but not loaded: a poll reads their id and ref only.
    """
    wanted = Q(id__gt=after_id)
    if retry_refs:
        wanted |= Q(ref__in=retry_refs)
    pending_status = OutboundMessage.Status.PENDING
    pending = OutboundMessage.objects.filter(wanted, bot_id=bot, status=pending_status)
    if due_only:
        pending = pending.filter(next_attempt_at__lte=timezone.now())
    found = list(pending.order_by("id").values_list("id", "ref")[:limit])
    ids = [pk for pk, ref in found if ref not in skip_refs]
    rows = list(OutboundMessage.objects.filter(id__in=ids, status=pending_status).order_by("id")) if ids else []
    return Due(rows=rows, high_id=max((pk for pk, _ in found), default=0), more=len(found) >= limit)


def outbox_rung(*, bot: int, refs: list[str]) -> list[OutboundMessage]:
    """Bot ``bot``'s sends among ``refs`` that are pending and due, oldest first (one query)."""
    if not refs:
        return []
    pending = OutboundMessage.objects.filter(
        ref__in=refs, bot_id=bot, status=OutboundMessage.Status.PENDING, next_attempt_at__lte=timezone.now()
    )
    return list(pending.order_by("id"))


def outbox_confirm_many(*, confirms: list[tuple[str, str, int]]) -> None:
    """Mark the sends of ``(ref, hash, timestamp)`` delivered, keeping the hash and time the
    bridge reported (a time past the 64-bit column is dropped): one transaction, one round
    trip on PostgreSQL. A ref with no send changes nothing."""
    table = connection.ops.quote_name(OutboundMessage._meta.db_table)
    # The model's fields of these names keep their default columns; values are parameters.
    status, sent_at, session_hash, session_ts, ref = (
        connection.ops.quote_name(name) for name in ("status", "sent_at", "session_hash", "session_timestamp", "ref")
    )
    update = (
        f"UPDATE {table} SET {status} = %s, {sent_at} = %s, {session_hash} = %s, {session_ts} = %s "  # noqa: S608
        f"WHERE {ref} = %s"
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    rows = [
        (OutboundMessage.Status.SENT, now, session_hash[:128], ts if 0 <= ts < 2**63 else None, ref)  # 64-bit column
        for ref, session_hash, ts in confirms
    ]
    # A confirm lost in a database crash only means a resend, de-duplicated by ref: the
    # relaxed commit. The updates travel with BEGIN and COMMIT as one query on PostgreSQL.
    with writes_batched(), connection.cursor() as cursor:
        cursor.executemany(update, rows)


def outbox_retry_delay(*, attempts: int) -> float:
    """Seconds to wait before attempt number ``attempts + 1``: doubling, capped."""
    return float(min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS))


def outbox_fail(*, ref: str, reason: str, retry: bool) -> OutboundMessage | None:
    """Record a failed send: retry later with backoff, or give up for good."""
    with transaction.atomic():
        row = OutboundMessage.objects.select_for_update().filter(ref=ref).first()
        if row is None or row.status != OutboundMessage.Status.PENDING:
            return row
        row.attempts += 1
        row.last_error = reason[:1000]
        if retry:
            row.next_attempt_at = timezone.now() + timedelta(seconds=outbox_retry_delay(attempts=row.attempts))
        else:
            row.status = OutboundMessage.Status.FAILED
        row.save(update_fields=["attempts", "last_error", "next_attempt_at", "status"])
    log.warning("bridge could not send %s (retry=%s)", ref, retry, extra=log_fields(ref=ref))
    return row
