"""The bridge process: one broker connection (asyncio), one poller thread, one sender thread.

Ordering and delivery rules (``shared/bridge-protocol.md``): a fetched message is forwarded
until the broker acks it, and the persisted cursor passes it only then; sends are handled one
at a time in arrival order, so the parts of a long reply go out in order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import session_python
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from bridge.account import SessionAccount, SessionUnreachable
from bridge.backoff import Backoff
from bridge.inbox import Fetched, Inbox
from bridge.network import NetworkLike, network_build
from bridge.receiver import MAX_BACKLOG, MAX_BACKLOG_BYTES, PollTiming, Receiver
from bridge.sender import send_handle
from bridge.store import BridgeStore
from bridgeprotocol.frames import (
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    Ack,
    Error,
    Failed,
    FrameError,
    Hello,
    Message,
    Send,
    Sent,
    Status,
    Welcome,
    parse_frame,
)

log = logging.getLogger(__name__)

CLIENT = f"sessionbot-bridge session-python/{getattr(session_python, '__version__', '1.0.5')}"
WELCOME_TIMEOUT = 15.0
RECENT_KEPT = 500


@dataclass(frozen=True, slots=True)
class BridgeSettings:
    broker_url: str
    token: str
    mnemonic: str
    state_dir: Path
    display_name: str = "sessionbot"
    network_url: str = ""
    timing: PollTiming = field(default_factory=PollTiming)
    status_interval: float = 15.0
    typing: bool = True


@dataclass(frozen=True, slots=True)
class _Typing:
    to: str


class Bridge:
    def __init__(self, cfg: BridgeSettings, *, network: NetworkLike | None = None) -> None:
        self.cfg = cfg
        self.store = BridgeStore(cfg.state_dir)
        self.inbox = Inbox(cursor=self.store.cursor, settled=self.store.recent)
        accounts = [
            SessionAccount(
                mnemonic=cfg.mnemonic,
                network=network or network_build(cfg.network_url),
                display_name=cfg.display_name,
            )
            for _ in range(2)  # one per thread: session-python is not thread-safe
        ]
        self.poll_account, self.send_account = accounts
        self.bot_id = self.poll_account.session_id
        self.errors = {"broker": 0, "send": 0}
        self.ws: ClientConnection | None = None
        self._sender_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="session-sender")
        self._stop = asyncio.Event()
        self._queue: asyncio.Queue[Send | _Typing] = asyncio.Queue()
        # Refs queued and not yet handled: a broker that resends every pending send at each
        # hello (a flapping link) would otherwise queue each again, and while the Session
        # network is down every copy takes its full round of tries.
        self._queued_refs: set[str] = set()
        self._cursor_dirty = False
        self._cursor_writer: asyncio.Task[None] | None = None
        self.receiver: Receiver | None = None
        self._tasks: set[asyncio.Task[bool]] = set()
        self._retries: dict[str, Backoff] = {}  # messages the broker could not store, by id

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.receiver = Receiver(
            account=self.poll_account,
            cursor=self.store.cursor,
            since_ms=self.store.since_ms,
            deliver=lambda items: self._from_thread(loop, items),
            backlog_full=self._backlog_full,
            timing=self.cfg.timing,
            known=self.inbox.known,
        )
        self.receiver.start()
        tasks = [asyncio.create_task(t) for t in (self._connect_loop(), self._send_loop(), self._status_loop())]
        try:
            await self._stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._cursor_writer is not None:
                await asyncio.gather(self._cursor_writer, return_exceptions=True)  # the latest cursor is kept
            self.receiver.stop()
            await asyncio.to_thread(self.receiver.join, 15)
            self._sender_pool.shutdown(wait=False, cancel_futures=True)

    # --- Session → broker --------------------------------------------------------------

    def _backlog_full(self) -> bool:
        """Whether to stop fetching until the broker acks: asked from the poller's thread."""
        return len(self.inbox) >= MAX_BACKLOG or self.inbox.waiting_bytes >= MAX_BACKLOG_BYTES

    def _from_thread(self, loop: asyncio.AbstractEventLoop, items: list[Fetched]) -> None:
        if not self._stop.is_set():  # after a stop, the loop may be gone; the cursor re-delivers
            loop.call_soon_threadsafe(self._on_fetched, items)

    def _on_fetched(self, items: list[Fetched]) -> None:
        before = self.inbox.cursor
        for item in items:
            if self.inbox.add(item) and item.frame is not None and self.ws is not None:
                # tasks start in FIFO order and each writes at once, so frames keep their order
                task = asyncio.create_task(self._emit(item.frame))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        if self.inbox.cursor != before:
            self._cursor_save()

    def _cursor_save(self) -> None:
        """Persist the cursor soon, off the event loop: one write (with its fsync) for a burst
        of acks instead of one each, and none of them holding up the broker link."""
        self._cursor_dirty = True
        if self._cursor_writer is None or self._cursor_writer.done():
            self._cursor_writer = asyncio.create_task(self._cursor_write())

    async def _cursor_write(self) -> None:
        while self._cursor_dirty:
            self._cursor_dirty = False
            cursor, recent = self.inbox.cursor, self.inbox.settled_recent(RECENT_KEPT)
            try:
                await asyncio.to_thread(self.store.cursor_save, cursor, recent)
            except OSError:
                # Kept in memory; the next ack writes it again. A crash meanwhile re-delivers
                # messages the broker acks as duplicates.
                log.exception("the poll cursor could not be saved")

    def _on_ack(self, ack: Ack) -> None:
        frame = self.inbox.frame(ack.id)
        if ack.status == "rejected":
            log.warning("broker rejected message %s: %s", ack.id[:12], ack.reason)
        self._retries.pop(ack.id, None)
        if self.inbox.settle(ack.id):
            self._cursor_save()
        if ack.status == "accepted" and frame is not None and self.cfg.typing:
            self._queue.put_nowait(_Typing(frame.conversation))

    # --- broker → Session --------------------------------------------------------------

    async def _send_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            item = await self._queue.get()
            if isinstance(item, _Typing):
                await loop.run_in_executor(self._sender_pool, self._typing, item.to)
                continue
            try:
                result = await loop.run_in_executor(self._sender_pool, self._send, item)
            except Exception as exc:  # send_handle answers for its own failures; never stop sending
                log.exception("send %s failed unexpectedly", item.ref)
                reason = f"the bridge failed on this send ({type(exc).__name__})"
                result = Failed(ref=item.ref, reason=reason, retry=True)
            finally:
                self._queued_refs.discard(item.ref)
            if isinstance(result, Failed):
                self.errors["send"] += 1
            if self.receiver is not None:
                self.receiver.touch()
            await self._emit(result)  # lost if the link is down: the broker resends, we answer from disk

    def _send(self, frame: Send) -> Sent | Failed:
        return send_handle(account=self.send_account, store=self.store, frame=frame)

    def _typing(self, to: str) -> None:
        try:
            self.send_account.typing(to=to)
        except (SessionUnreachable, ValueError) as exc:
            log.debug("typing indicator not sent: %s", exc)
        except Exception:  # best effort: a typing indicator must never stop the sender
            log.exception("typing indicator not sent")

    # --- the broker link ---------------------------------------------------------------

    async def _emit(self, frame: Message | Sent | Failed | Status | Hello) -> bool:
        ws = self.ws
        if ws is None:
            return False
        try:
            await ws.send(frame.to_json())
        except ConnectionClosed:
            return False
        return True

    async def _connect_loop(self) -> None:
        backoff = Backoff(base=0.5, cap=30.0)
        while not self._stop.is_set():
            try:
                async with connect(
                    self.cfg.broker_url,
                    additional_headers={"Authorization": f"Bearer {self.cfg.token}"},
                    max_size=MAX_FRAME_BYTES,
                    open_timeout=15,
                    ping_interval=20,
                    ping_timeout=30,
                    # The broker is local or on a private network: compressing every
                    # small frame cost CPU on both ends per message and saved nothing.
                    compression=None,
                ) as ws:
                    await self._converse(ws, backoff)
            except InvalidStatus as exc:
                log.error("the broker refused the bridge (HTTP %s): check BRIDGE_TOKEN", exc.response.status_code)
            except (OSError, WebSocketException, TimeoutError, FrameError) as exc:
                log.warning("broker connection lost (%s: %s); reconnecting", type(exc).__name__, exc)
            finally:
                self.ws = None
            self.errors["broker"] += 1
            await asyncio.sleep(backoff.next())

    async def _converse(self, ws: ClientConnection, backoff: Backoff) -> None:
        await ws.send(Hello(protocol=PROTOCOL_VERSION, bot_id=self.bot_id, client=CLIENT).to_json())
        first = parse_frame(await asyncio.wait_for(ws.recv(), WELCOME_TIMEOUT))
        if not isinstance(first, Welcome):
            raise FrameError(f"expected welcome, got {first.type}")
        backoff.reset()
        log.info("connected to the broker at %s", self.cfg.broker_url)
        resent: set[str] = set()
        while batch := [m for m in self.inbox.waiting() if m.id not in resent]:
            for msg in batch:
                await ws.send(msg.to_json())
                resent.add(msg.id)
        self.ws = ws  # no await since the last check: nothing fetched meanwhile is missed
        await self._emit(self.status())
        async for raw in ws:
            self._dispatch(raw)
        if ws.close_code == 4401:
            log.error("the broker closed the link with 4401: BRIDGE_TOKEN is wrong")

    def _dispatch(self, raw: str | bytes) -> None:
        try:
            frame = parse_frame(raw)
        except FrameError as exc:
            log.warning("ignored a frame from the broker: %s", exc.detail)
            return
        if isinstance(frame, Ack):
            self._on_ack(frame)
        elif isinstance(frame, Send):
            if frame.ref not in self._queued_refs:
                self._queued_refs.add(frame.ref)
                self._queue.put_nowait(frame)
        elif isinstance(frame, Error):
            log.warning("broker error %s: %s", frame.code, frame.detail)
            if frame.code == "internal" and frame.id:
                self._retry_later(frame.id)
            elif frame.code == "bad_frame" and frame.id and self.inbox.frame(frame.id) is not None:
                # The broker will never take this frame (a bridge bug): waiting for its ack
                # would hold the cursor here for good. Drop it, loudly.
                log.error("the broker refused message %s as a bad frame; dropped: %s", frame.id[:12], frame.detail)
                self._retries.pop(frame.id, None)
                if self.inbox.settle(frame.id):
                    self._cursor_save()

    def _retry_later(self, message_id: str) -> None:
        """The broker could not store a message (its database or Redis is down): send it
        again after a growing delay, on this connection; a reconnect sends it anyway."""
        if self.inbox.frame(message_id) is None:
            return
        backoff = self._retries.setdefault(message_id, Backoff(base=1.0, cap=60.0))
        asyncio.get_running_loop().call_later(backoff.next(), self._resend, self.ws, message_id)

    def _resend(self, ws: ClientConnection | None, message_id: str) -> None:
        frame = self.inbox.frame(message_id)
        if frame is None or ws is None or self.ws is not ws:
            return  # acked meanwhile, or the connection changed (its hello sent every waiting message)
        task = asyncio.create_task(self._emit(frame))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.status_interval)
            await self._emit(self.status())

    def status(self) -> Status:
        health = self.receiver.health if self.receiver is not None else None
        last = health.last_poll_at if health else None
        return Status(
            polling=bool(health and health.polling and health.reachable),
            last_poll_ms=int((time.time() - last) * 1000) if last else None,
            last_poll_at=int(last * 1000) if last else None,
            session_reachable=bool(health and health.reachable),
            awaiting_ack=len(self.inbox),
            queued_sends=self._queue.qsize(),
            errors={**(health.errors if health else {}), **self.errors},
            network="local test network" if self.cfg.network_url else "Session",
        )
