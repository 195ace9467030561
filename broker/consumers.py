"""The bridge endpoint, ``/ws/bridge/``: protocol version 1 (docs/bridge-protocol.md).

An adapter: it checks the token, hands frames, doorbell rings and clock ticks to the
connection's pure core (``broker.connection``), and performs what the core returns, in
order: frames to write, database jobs (each in a task of its own, its result fed back).
The channel layer (Redis, which a plugin may reach) is trusted with nothing but the ring,
a hint that names refs: only what the database holds as pending is pushed.
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import logging
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import InMemoryChannelLayer
from django.conf import settings

from bridgeprotocol.frames import frame_text
from bridgeprotocol.logformat import log_fields
from broker import bridges, doorbell, outbox, pending, working
from broker.accept import inbound_accept_many
from broker.connection import Connection, frame_failed
from broker.connection_jobs import (
    AcceptMany,
    Close,
    ConfirmMany,
    Effect,
    FailStore,
    Found,
    Job,
    LeaseRenew,
    Note,
    ReadDue,
    ReadRung,
    ReadWorking,
    StatusStore,
    StoreClose,
    StoreHello,
    Write,
)
from broker.models import OutboundMessage

log = logging.getLogger(__name__)

# Batches stored at once, each sender always in the same lane (so in order). A batch mostly
# waits for database and Redis round trips; SQLite takes one writer at a time anyway.
ACCEPT_LANES = 1 if settings.DATABASE_IS_SQLITE else 2
CLOSE_UNAUTHORIZED = 4401


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


async def job_perform(job: Job) -> Any:
    """Run ``job`` on the database; its result as ``Connection.job_done`` takes it."""
    match job:
        case AcceptMany():
            accept = database_sync_to_async(inbound_accept_many, thread_sensitive=False)
            return await accept(messages=list(job.messages), bot=job.bot, bot_id=job.bot_id)
        case ConfirmMany():
            return await database_sync_to_async(outbox.outbox_confirm_many)(confirms=list(job.confirms))
        case ReadRung():
            # Off the thread the confirms and the poll share: a ring's read need not queue behind them.
            rows = await database_sync_to_async(outbox.outbox_rung, thread_sensitive=False)(
                bot=job.bot, refs=list(job.refs)
            )
            return Found(sends=[outbox.send_frame(row) for row in rows])
        case ReadDue():
            if job.idle and not await pending.pending_sends.has(job.bot):
                return Found()  # what the poll would find: nothing pending for this bot
            due = await database_sync_to_async(outbox.outbox_due)(
                bot=job.bot,
                after_id=job.after_id,
                retry_refs=job.retry_refs,
                limit=job.limit,
                due_only=job.due_only,
                skip_refs=job.skip_refs,
            )
            return Found(sends=[outbox.send_frame(row) for row in due.rows], high_id=due.high_id, more=due.more)
        case StoreHello():
            return await database_sync_to_async(bridges.bridge_connected)(
                bot_id=job.bot_id, client=job.client, instance=job.instance, held_epoch=job.held_epoch
            )
        case FailStore():
            return await database_sync_to_async(outbox.outbox_fail)(ref=job.ref, reason=job.reason, retry=job.retry)
        case StatusStore():
            return await database_sync_to_async(bridges.bridge_status_store)(bot_id=job.bot_id, fields=job.fields)
        case ReadWorking():
            if not await pending.at_work.has(job.bot):
                return []
            return await database_sync_to_async(working.conversations_working, thread_sensitive=False)(bot=job.bot)
        case StoreClose():
            return await database_sync_to_async(bridges.bridge_disconnected)(
                bot_id=job.bot_id, connected_at=job.connected_at, epoch=job.epoch
            )
        case LeaseRenew():
            return await database_sync_to_async(bridges.bridge_lease_renew, thread_sensitive=False)(
                bot_id=job.bot_id, epoch=job.epoch
            )


def job_failure(job: Job) -> str:
    """What failed, for the log."""
    match job:
        case AcceptMany():
            return f"{len(job.messages)} bridge message(s) could not be stored"
        case ConfirmMany():
            return f"{len(job.confirms)} sent confirmation(s) could not be stored"
        case ReadRung() | ReadDue():
            return "pushing pending sends failed; retrying"
        case StoreClose():
            return "the close of the bridge connection could not be recorded"
        case ReadWorking():
            return "the conversations to show typing in could not be read"
        case LeaseRenew():
            return "the bridge connection's lease could not be renewed; trying again"
    return "bridge frame could not be handled"


class BridgeConsumer(AsyncWebsocketConsumer):
    core: Connection | None = None  # none when the token was refused

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
        # A shared (Redis) channel layer carries every process's rings, answers included.
        rung = self.channel_layer is not None and not isinstance(self.channel_layer, InMemoryChannelLayer)
        self.core = Connection(lanes=ACCEPT_LANES, rung=rung)
        self.loop = asyncio.get_running_loop()
        self.jobs: set[asyncio.Task[None]] = set()
        self.writes: collections.deque[Write | Close] = collections.deque()
        self.writing = False
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at: float | None = None
        self.flowing: asyncio.Future[None] | None = None  # set when held frames are taken
        self.rings_group: str | None = None  # the doorbell group of its bot, joined after its hello
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.core is not None:
            if self.channel_layer is not None and self.rings_group is not None:
                await self.channel_layer.group_discard(self.rings_group, self.channel_name)
            self.start(self.core.close())
            while self.jobs:  # the stores under way complete; the last records the close
                await asyncio.wait(set(self.jobs))
        log.info("bridge disconnected (code %s)", code)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its ``close_old_connections`` hop before every event:
        every database call here goes through ``database_sync_to_async``, which tidies the
        connections of the thread it runs on, and the hop queued each frame behind them."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def outbox_ring(self, event: dict[str, Any]) -> None:
        """Sends were committed: the core reads the rows the ring names."""
        ring = doorbell.ring_parse(event)
        if ring is None:
            self.foreign_event(event)
        elif self.core is not None:
            self.start(self.core.ring(ring.refs, poll=ring.poll, now=self.loop.time()))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        assert self.core is not None  # frames come only on an accepted connection
        raw: str | bytes = text_data if text_data is not None else (bytes_data or b"")
        try:
            self.start(self.core.frame_received(raw))
        except Exception:
            log.exception("bridge frame could not be handled")
            self.writes.append(frame_failed())
        await self.flush()
        if self.core.holding:  # the next frame waits for those held to take effect
            self.flowing = self.loop.create_future()
            await self.flowing

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=frame_text(content))

    def start(self, effects: list[Effect]) -> None:
        """Queue the core's writes, start its jobs and note its log lines, in order."""
        for effect in effects:
            if isinstance(effect, Write | Close):
                self.writes.append(effect)
            elif isinstance(effect, Note):
                bot = self.core.bot_id if self.core is not None else None
                log.log(effect.level, "%s", effect.text, extra=log_fields(bot=bot))
            else:
                task = asyncio.create_task(self.job_run(effect))
                self.jobs.add(task)
                task.add_done_callback(self.jobs.discard)
        self.timer_arm()

    async def flush(self) -> None:
        """Write the queued frames, one writer at a time, so they go out in the core's order."""
        if self.writing:
            return  # the writer under way writes these too
        self.writing = True
        try:
            while self.writes:
                effect = self.writes.popleft()
                if isinstance(effect, Close):
                    await self.close(code=effect.code)
                else:
                    await self.send_json(effect.frame)
        finally:
            self.writing = False

    async def job_run(self, job: Job) -> None:
        assert self.core is not None
        try:
            result = await job_perform(job)
        except Exception:
            log.exception("%s", job_failure(job))
            effects = self.core.job_failed(job, now=self.loop.time())
        else:
            effects = self.core.job_done(job, result, now=self.loop.time())
            if isinstance(job, StoreHello):
                await self.rings_join()
        self.start(effects)
        if self.flowing is not None and not self.core.holding:
            self.flowing.set_result(None)
            self.flowing = None
        await self.flush()

    async def rings_join(self) -> None:
        """Hear the rings of this connection's bot, once its hello says which bot it is."""
        assert self.core is not None
        if self.channel_layer is None or self.rings_group is not None or not self.core.bot or self.core.closed:
            return
        self.rings_group = outbox.doorbell_group(self.core.bot)
        await self.channel_layer.group_add(self.rings_group, self.channel_name)

    def timer_arm(self) -> None:
        """Tick the core at its deadline (the next poll)."""
        assert self.core is not None
        deadline = self.core.deadline(now=self.loop.time())
        if deadline == self.timer_at:
            return
        if self.timer is not None:
            self.timer.cancel()
        self.timer_at, self.timer = deadline, None
        if deadline is not None:
            self.timer = self.loop.call_at(deadline, self.tick)

    def tick(self) -> None:
        assert self.core is not None
        self.timer_at = self.timer = None
        self.start(self.core.tick(now=self.loop.time()))
        if self.writes and not self.writing:
            task = asyncio.create_task(self.flush())
            self.jobs.add(task)
            task.add_done_callback(self.jobs.discard)
