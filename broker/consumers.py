"""The bridge endpoint, ``/ws/bridge/``: protocol version 1 (shared/bridge-protocol.md).

Thin: it checks the token, parses frames and calls one service per frame. A background
task pushes pending sends: those the channel-layer doorbell names, read from the outbox,
and those a poll of the outbox finds (the safety net: the worker may be another process
with no shared channel layer). Only what the database holds as pending is pushed; the
channel layer (Redis, which a plugin may reach) is trusted with nothing but the hint.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import zlib
from datetime import datetime
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import InMemoryChannelLayer
from django.conf import settings

from bridgeprotocol.frames import (
    MAX_FRAME_BYTES,
    Ack,
    Error,
    Failed,
    FrameError,
    Hello,
    Message,
    Sent,
    Status,
    Welcome,
    frame_text,
    parse_frame,
)
from broker import bridges, doorbell, outbox
from broker.accept import inbound_accept_many
from broker.models import OutboundMessage
from broker.sendledger import SendLedger
from broker.validator import frame_fault

log = logging.getLogger(__name__)

FAST_POLL_SECONDS = 0.01  # while messages flow: the worker's replies show up within ms
# With a shared (Redis) channel layer every reply rings the doorbell, from any process, with
# its refs: the poll is only the safety net for a lost ring.
IDLE_POLL_SECONDS = 1.0
ACTIVE_SECONDS = 10.0
RESCAN_SECONDS = 5.0  # a full scan now and then catches what the lagging cursor missed
ACCEPT_BATCH = 64  # messages stored per transaction at most (SQLite's writer lock is held meanwhile)
# Batches stored at once, each sender always in the same lane (so in order). A batch mostly
# waits for database and Redis round trips; SQLite takes one writer at a time anyway.
ACCEPT_LANES = 1 if settings.DATABASE_IS_SQLITE else 2
STORE_FAILED = "the broker could not store this message; send it again later"
CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_BIG = 1009


def bearer_token_ok(headers: list[tuple[bytes, bytes]], expected: str) -> bool:
    """Check ``Authorization: Bearer <token>`` in constant time."""
    given = b""
    for name, value in headers:
        if name.lower() == b"authorization":
            given = value
    scheme, _, token = given.partition(b" ")
    if scheme.lower() != b"bearer" or not expected:
        return False
    return hmac.compare_digest(token.strip(), expected.encode("utf-8"))


def send_frame_json(row: OutboundMessage) -> str:
    return frame_text(outbox.send_frame(row))


class BridgeConsumer(AsyncWebsocketConsumer):
    @property
    def channel_receive(self) -> Any:
        return self._layer_receive

    @channel_receive.setter
    def channel_receive(self, receive: Any) -> None:
        """Channels hands every event of the channel layer to ``dispatch``, beside the
        WebSocket's own: an event typed ``websocket.receive`` would be taken for a frame
        from the bridge. Anyone who reaches Redis can publish one; only rings get through."""

        async def rings_only() -> dict[str, Any]:
            while True:
                event = await receive()
                if isinstance(event, dict) and event.get("type") == doorbell.EVENT_TYPE:
                    return event
                self.foreign_event(event)

        self._layer_receive = rings_only

    def foreign_event(self, event: Any) -> None:
        """Ignore an event on the channel layer that is not a ring of ours; say so once."""
        if not getattr(self, "foreign_seen", False):
            self.foreign_seen = True
            kind = event.get("type") if isinstance(event, dict) else type(event).__name__
            log.warning(
                "ignored an event on the channel layer that is not an outbox ring (type %r); is "
                "something else publishing on this Redis? (said once per connection)",
                str(kind)[:60],
            )

    async def connect(self) -> None:
        if not bearer_token_ok(self.scope.get("headers", []), settings.BRIDGE_TOKEN):
            log.warning("bridge connection refused: missing or wrong token")
            await self.close(code=CLOSE_UNAUTHORIZED)  # before accept: the handshake gets 403
            return
        self.bot_id: str | None = None
        self.hello_at: datetime | None = None  # when this connection's hello was recorded
        self.ledger = SendLedger()  # what was pushed and answered; the poll's cursor
        self.full_scan = True
        self.after_hello = False
        self.wake = asyncio.Event()
        self.active_until = 0.0
        self.pump: asyncio.Task[None] | None = None
        # A shared (Redis) channel layer carries every process's rings, answers included.
        self.rung = self.channel_layer is not None and not isinstance(self.channel_layer, InMemoryChannelLayer)
        self.rung_refs: dict[str, None] = {}  # named by rings, not read yet (in order)
        self.poll_now = False  # a poll is due before the next interval
        self.arrived: list[list[Message]] = [[] for _ in range(ACCEPT_LANES)]
        self.accepting: list[asyncio.Task[None] | None] = [None] * ACCEPT_LANES
        # Batches begun and acked per lane: a send waits for the acks of the batches that were
        # being stored when it was seen, so an answer never overtakes its message's ack.
        self.batches_begun = [0] * ACCEPT_LANES
        self.batches_acked = [0] * ACCEPT_LANES
        self.acks_sent = asyncio.Condition()
        self.confirms: list[tuple[str, str, int]] = []
        self.confirming: asyncio.Task[None] | None = None
        self.confirms_seen = 0  # sent frames received
        self.confirms_done = 0  # of those, stored (or given up on, logged)
        self.confirms_done_changed = asyncio.Condition()
        await self.accept()
        if self.channel_layer is not None:
            await self.channel_layer.group_add(outbox.DOORBELL_GROUP, self.channel_name)

    async def disconnect(self, code: int) -> None:
        pump = getattr(self, "pump", None)
        if pump is not None:
            pump.cancel()
        if self.channel_layer is not None and hasattr(self, "wake"):
            await self.channel_layer.group_discard(outbox.DOORBELL_GROUP, self.channel_name)
        if hasattr(self, "confirms_done_changed"):
            await self.confirms_reach(self.confirms_seen)
        for lane, accepting in enumerate(getattr(self, "accepting", ())):
            # Messages not yet stored are dropped unacked: the bridge sends them again. The
            # batch being stored completes; its acks cannot reach a closed connection.
            self.arrived[lane].clear()
            if accepting is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(accepting)
        hello = getattr(self, "hello_at", None)
        if getattr(self, "bot_id", None) and hello is not None:
            await database_sync_to_async(bridges.bridge_disconnected)(bot_id=self.bot_id, connected_at=hello)
        log.info("bridge disconnected (code %s)", code)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its ``close_old_connections`` hop before every event.

        That hop ran on the one thread that also serves the send pump and the confirms, so
        under load each incoming frame queued behind their queries. Every database call
        of this consumer goes through ``database_sync_to_async``, which tidies the
        connections of the thread it runs on before and after the call.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def outbox_ring(self, event: dict[str, Any]) -> None:
        """Sends were committed: the pump reads the rows the ring names (or polls)."""
        ring = doorbell.ring_parse(event)
        if ring is None:
            self.foreign_event(event)
            return
        if self.bot_id is not None:  # before hello the pump's first poll gets everything anyway
            self.rung_refs.update(dict.fromkeys(ring.refs))
            self.poll_now = self.poll_now or ring.poll
        self.wake.set()

    def acked_up_to(self, begun: list[int]) -> bool:
        return all(acked >= count for acked, count in zip(self.batches_acked, begun, strict=True))

    async def acks_reach(self, begun: list[int]) -> None:
        """Wait until the batches counted in ``begun`` (per lane) have sent their acks."""
        async with self.acks_sent:
            await self.acks_sent.wait_for(lambda: self.acked_up_to(begun))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw: str | bytes = text_data if text_data is not None else (bytes_data or b"")
        size = len(raw) if isinstance(raw, bytes) or len(raw) * 4 <= MAX_FRAME_BYTES else len(raw.encode())
        if size > MAX_FRAME_BYTES:
            await self.close(code=CLOSE_TOO_BIG)
            return
        try:
            if text_data is None:
                raise FrameError("frames must be JSON in text frames, not binary")
            await self.frame_handle(parse_frame(text_data))
        except FrameError as exc:
            await self.send_json(Error(code=exc.code, detail=exc.detail, id=exc.frame_id).dump())
        except Exception:
            log.exception("bridge frame could not be handled")
            await self.send_json(Error(code="internal", detail="the broker failed on this frame; try again").dump())

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=frame_text(content))

    async def frame_handle(self, frame: Any) -> None:
        fault = frame_fault(frame)  # every field of the frame, before anything is stored
        if fault is not None:
            raise FrameError(fault, frame_id=frame.id if isinstance(frame, Message) else None)
        if isinstance(frame, (Hello, Failed)):
            # Frames take effect after the confirms before them (a hello resends what is
            # pending). A message waits for them too, but in its batch (``accept_run``), not
            # here: waiting here held every later frame behind each confirm transaction.
            await self.confirms_reach(self.confirms_seen)
        if isinstance(frame, Hello):
            await self.hello(frame)
        elif isinstance(frame, Message):
            await self.message(frame)
        elif isinstance(frame, Sent):
            self.ledger.answered(frame.ref)
            self.confirms.append((frame.ref, frame.hash, frame.timestamp))
            self.confirms_seen += 1
            if self.confirming is None or self.confirming.done():
                self.confirming = asyncio.create_task(self.confirms_flush())
        elif isinstance(frame, Failed):
            self.ledger.answered(frame.ref)
            try:
                await database_sync_to_async(outbox.outbox_fail)(ref=frame.ref, reason=frame.reason, retry=frame.retry)
            finally:
                self.ledger.answers_stored([frame.ref])
            if frame.retry:
                self.ledger.retry_later(frame.ref)
        elif isinstance(frame, Status):
            if self.bot_id:
                await database_sync_to_async(bridges.bridge_status_store)(bot_id=self.bot_id, fields=frame.dump())
        else:
            raise FrameError(f"a bridge does not send {frame.type!r} frames")

    async def confirms_flush(self) -> None:
        """Store the queued ``sent`` confirms, many per transaction while they keep coming."""
        while self.confirms:
            batch, self.confirms = self.confirms, []
            try:
                await database_sync_to_async(outbox.outbox_confirm_many)(confirms=batch)
            except Exception:
                # Unconfirmed sends stay pending: a reconnecting bridge gets them again and
                # de-duplicates them by ref.
                log.exception("%d sent confirmation(s) could not be stored", len(batch))
            self.ledger.answers_stored([ref for ref, _, _ in batch])
            async with self.confirms_done_changed:
                self.confirms_done += len(batch)
                self.confirms_done_changed.notify_all()

    async def confirms_reach(self, count: int) -> None:
        """Wait until the first ``count`` confirms of this connection have been handled."""
        async with self.confirms_done_changed:
            await self.confirms_done_changed.wait_for(lambda: self.confirms_done >= count)

    async def hello(self, frame: Hello) -> None:
        recorded = await database_sync_to_async(bridges.bridge_connected)(bot_id=frame.bot_id, client=frame.client)
        if recorded.another_open and self.hello_at is None:
            log.warning(
                "the bridge of bot %s said hello while another connection of it was open: a reconnect "
                "whose old connection has not closed yet, a broker process that stopped without "
                "closing it, or a second bridge (run one bridge per bot, or users may get replies twice)",
                frame.bot_id,
            )
        self.bot_id, self.hello_at = frame.bot_id, recorded.connected_at
        log.info("bridge said hello: protocol %s, client %s", frame.protocol, frame.client[:60])
        await self.send_json(Welcome().dump())
        self.ledger.restart()
        self.full_scan, self.after_hello = True, True
        if self.pump is None:
            self.pump = asyncio.create_task(self.pump_run())
        self.wake.set()

    async def message(self, frame: Message) -> None:
        if self.bot_id is None:
            raise FrameError("say hello before sending messages", code="no_hello", frame_id=frame.id)
        # Stored in batches: the messages that arrive while one batch is being stored make
        # the next one (one transaction each), so a busy bridge costs a few statements per
        # batch and a quiet one waits for nothing.
        # surrogatepass: a sender that holds a lone surrogate is rejected in its batch, not here.
        lane = zlib.crc32(frame.sender.encode("utf-8", "surrogatepass")) % ACCEPT_LANES
        self.arrived[lane].append(frame)
        running = self.accepting[lane]
        if running is None or running.done():
            self.accepting[lane] = asyncio.create_task(self.accept_run(lane, self.bot_id))

    async def accept_run(self, lane: int, bot_id: str) -> None:
        accept = database_sync_to_async(inbound_accept_many, thread_sensitive=False)
        while self.arrived[lane]:
            batch, self.arrived[lane] = self.arrived[lane][:ACCEPT_BATCH], self.arrived[lane][ACCEPT_BATCH:]
            # Frames take effect in order: the confirms received before these messages are
            # stored before the messages are acked.
            await self.confirms_reach(self.confirms_seen)
            self.batches_begun[lane] += 1
            try:
                await self.accept_batch(accept, batch, bot_id)
            finally:
                async with self.acks_sent:
                    self.batches_acked[lane] += 1
                    self.acks_sent.notify_all()

    async def accept_batch(self, accept: Any, batch: list[Message], bot_id: str) -> None:
        """Store ``batch`` and answer each of its messages: ``ack``, or ``error`` if it failed."""
        try:
            results = await accept(messages=batch, bot_id=bot_id)
        except Exception:
            log.exception("%d bridge message(s) could not be stored", len(batch))
            for frame in batch:
                await self.send_json(Error(code="internal", detail=STORE_FAILED, id=frame.id).dump())
            return
        for frame, result in zip(batch, results, strict=True):
            if result.status == "failed":  # this message alone could not be stored
                answer = Error(code="internal", detail=STORE_FAILED, id=frame.id).dump()
            else:
                answer = Ack(id=frame.id, status=result.status, reason=result.reason).dump()
            await self.send_json(answer)
        if any(result.status == "accepted" for result in results):
            self.active_until = asyncio.get_running_loop().time() + ACTIVE_SECONDS
            if not self.rung:
                self.wake.set()  # broker answers stored with the batch; a shared layer rings them

    async def pump_run(self) -> None:
        """Push pending sends until the connection ends; never let one failure stop it."""
        loop = asyncio.get_running_loop()
        last_full = last_poll = loop.time()
        fast = IDLE_POLL_SECONDS if self.rung else FAST_POLL_SECONDS
        while True:
            interval = fast if loop.time() < self.active_until else IDLE_POLL_SECONDS
            try:
                if self.rung_refs:
                    await self.rung_push()
                now = loop.time()
                if self.poll_now or self.full_scan or self.after_hello or not self.rung or now - last_poll >= interval:
                    if now - last_full > RESCAN_SECONDS:
                        self.full_scan, last_full = True, now
                    self.poll_now, last_poll = False, now
                    await self.pump_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pushing pending sends failed; retrying")
                self.active_until = 0.0  # back off to the idle poll while the database is unwell
            if not self.rung_refs and not self.poll_now:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=max(0.0, last_poll + interval - loop.time()))
            self.wake.clear()

    async def rung_push(self) -> None:
        """Push the pending sends among those the rings named (a lost one is the poll's)."""
        refs, self.rung_refs = list(self.rung_refs), {}
        read = self.ledger.read_begin()
        # Off the thread the confirms and the poll share: a ring's read need not queue behind them.
        rows = await database_sync_to_async(outbox.outbox_rung, thread_sensitive=False)(refs=refs)
        await self.rows_push(rows, read)

    async def pump_once(self) -> None:
        full, self.full_scan = self.full_scan, False
        after_hello, self.after_hello = self.after_hello, False
        ledger = self.ledger
        limit = 500 + len(ledger.inflight)  # pushed rows awaiting their confirm come back too
        read = ledger.read_begin()
        try:
            due = await database_sync_to_async(outbox.outbox_due)(
                after_id=0 if full else ledger.lagging_id(asyncio.get_running_loop().time()),
                retry_refs=frozenset(ledger.retry_refs),
                limit=limit,
                due_only=not after_hello,  # a reconnect gets every pending send, backoff or not
                skip_refs=ledger.skip_refs(),
            )
        except BaseException:
            # The next poll does what this one could not (a reconnect's sends in backoff too).
            self.full_scan, self.after_hello = self.full_scan or full, self.after_hello or after_hello
            raise
        ledger.seen(due.high_id)
        await self.rows_push(due.rows, read)
        if due.more:
            self.poll_now = True  # more than one batch is waiting

    async def rows_push(self, rows: list[OutboundMessage], read: int) -> None:
        """Push ``rows``, found pending by the read with ticket ``read``, unless the ledger
        says they were pushed or answered meanwhile."""
        # Counted after the read: a row it read was committed by a batch begun by now. (Counted
        # before, a batch that began and committed while the read waited its turn was missed,
        # and its answer went out before its ack.)
        begun = list(self.batches_begun)
        if rows and not self.acked_up_to(begun):
            await self.acks_reach(begun)  # an answer never overtakes its message's ack
        pushed = 0
        for row in rows:
            if self.ledger.take(row.ref, read):
                await self.send(text_data=send_frame_json(row))
                pushed += 1
        if pushed:
            self.active_until = asyncio.get_running_loop().time() + ACTIVE_SECONDS
