"""One bot's bridge: its broker connection (asyncio), its poll rounds and its sends.

The protocol's decisions are :class:`bridge.brokerlink.BrokerLink`'s (``docs/bridge-protocol.md``);
this module performs the effects it returns: it writes frames through one writer per link, in
the order decided, persists the cursor off the event loop, runs the retry timers and hands
sends to a sender thread. Sends are handled one at a time in arrival order, so the parts of
a long reply go out in order, even on a thread pool that many bots share.

Alone, a bridge polls and sends on threads of its own; in a :class:`bridge.fleet.Fleet`, many
bridges share one event loop, one poll scheduler, one sender pool and one HTTP connection pool.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import session_python
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from bridge.account import SessionAccount, SessionUnreachable
from bridge.botlog import BotLog
from bridge.brokerlink import (
    BrokerLink,
    Effect,
    Emit,
    EmitStatus,
    Hangup,
    Note,
    Reconnect,
    RetryLater,
    SaveCursor,
    ShowTyping,
    StartSend,
)
from bridge.inbox import Fetched
from bridge.network import NetworkLike, network_build
from bridge.polling import PollScheduler
from bridge.receiver import PollTiming, Receiver
from bridge.sender import send_handle
from bridge.store import BridgeStore
from bridgeprotocol.frames import (
    CLOSE_BOT_NOT_SERVED,
    CLOSE_BRIDGE_CONFLICT,
    MAX_FRAME_BYTES,
    Failed,
    FrameError,
    Send,
    Sent,
    Status,
)
from bridgeprotocol.logformat import log_fields

log = logging.getLogger(__name__)

CLIENT = f"sessionbot-bridge session-python/{getattr(session_python, '__version__', '1.0.5')}"
WELCOME_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class BridgeSettings:
    broker_url: str
    token: str = field(repr=False)
    mnemonic: str = field(repr=False)
    state_dir: Path
    display_name: str = "sessionbot"
    network_url: str = ""
    timing: PollTiming = field(default_factory=PollTiming)
    status_interval: float = 15.0
    typing: bool = True
    name: str = ""  # the bot's, for the log lines


class Bridge:
    """One bot's bridge. ``polls`` and ``sends`` are shared with other bridges when given;
    without them the bridge makes (and closes) its own."""

    def __init__(
        self,
        cfg: BridgeSettings,
        *,
        network: NetworkLike | None = None,
        polls: PollScheduler | None = None,
        sends: Executor | None = None,
        poll_spread: float = 0.0,
    ) -> None:
        self.cfg = cfg
        self.log = BotLog(log, cfg.name)
        self.store = BridgeStore(cfg.state_dir)
        self._network = network or network_build(cfg.network_url)
        # One account per thread that uses it (session-python is not thread-safe): polling
        # and sending may run at once. The sending one is made at the first send, so that an
        # idle bot holds one.
        self.poll_account = self._account()
        self._send_account: SessionAccount | None = None
        self._send_account_lock = threading.Lock()
        self.bot_id = self.poll_account.session_id
        self.link = BrokerLink(
            bot_id=self.bot_id,
            client=CLIENT,
            cursor=self.store.cursor,
            instance=self.store.instance,
            settled=self.store.recent,
            typing=cfg.typing,
        )
        self.inbox = self.link.inbox
        self._polls, self._own_polls = polls or PollScheduler(workers=1), polls is None
        self._poll_spread = poll_spread
        self._sends, self._own_sends = (
            sends or ThreadPoolExecutor(max_workers=1, thread_name_prefix="session-sender"),
            sends is None,
        )
        self._stop = asyncio.Event()
        self._queue: asyncio.Queue[Send | ShowTyping] = asyncio.Queue()
        self._outgoing: asyncio.Queue[str] | None = None  # the open link's frames, for its writer
        self._cursor_writer: asyncio.Task[None] | None = None
        self.receiver: Receiver | None = None

    def _account(self) -> SessionAccount:
        return SessionAccount(mnemonic=self.cfg.mnemonic, network=self._network, display_name=self.cfg.display_name)

    @property
    def send_account(self) -> SessionAccount:
        with self._send_account_lock:
            if self._send_account is None:
                self._send_account = self._account()
            return self._send_account

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.receiver = Receiver(
            account=self.poll_account,
            cursor=self.store.cursor,
            since_ms=self.store.since_ms,
            deliver=lambda items: self._from_thread(loop, items),
            backlog_full=self.link.backlog_full,
            timing=self.cfg.timing,
            known=self.inbox.known,
            bot=self.cfg.name,
        )
        self.receiver.start(self._polls, spread=self._poll_spread)
        tasks = [asyncio.create_task(t) for t in (self._connect_loop(), self._send_loop(), self._status_loop())]
        try:
            await self._stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            while self._cursor_writer is not None and not self._cursor_writer.done():
                # the latest cursor is kept: a write may start the next one as it ends
                await asyncio.gather(self._cursor_writer, return_exceptions=True)
            await asyncio.to_thread(self.receiver.stop)
            if self._own_polls:
                self._polls.close()
            if self._own_sends:
                self._sends.shutdown(wait=False, cancel_futures=True)

    def _perform(self, effects: Iterable[Effect]) -> None:
        """Carry out the link's effects in order. :class:`Reconnect` is the connect loop's."""
        for effect in effects:
            if isinstance(effect, Emit):
                self._write(effect.frame.to_json())
            elif isinstance(effect, EmitStatus):
                self._write(self.status().to_json())
            elif isinstance(effect, SaveCursor):
                self._cursor_writer = asyncio.create_task(self._cursor_write(effect))
            elif isinstance(effect, RetryLater):
                asyncio.get_running_loop().call_later(effect.delay, self._retry_due, effect)
            elif isinstance(effect, StartSend):
                self._queue.put_nowait(effect.frame)
            elif isinstance(effect, ShowTyping):
                self._queue.put_nowait(effect)
            elif isinstance(effect, Note):
                self.log.log(effect.level, "%s", effect.text)
            elif isinstance(effect, Hangup):
                raise FrameError(effect.reason)  # ends the link; the connect loop reconnects

    def _write(self, text: str) -> None:
        if self._outgoing is not None:  # none while no link is open: the link decides what goes again
            self._outgoing.put_nowait(text)

    # --- Session → broker --------------------------------------------------------------

    def _from_thread(self, loop: asyncio.AbstractEventLoop, items: list[Fetched]) -> None:
        if not self._stop.is_set():  # after a stop, the loop may be gone; the cursor re-delivers
            loop.call_soon_threadsafe(self._on_fetched, items)

    def _on_fetched(self, items: list[Fetched]) -> None:
        self._perform(self.link.fetched(items))

    async def _cursor_write(self, save: SaveCursor) -> None:
        """Persist the cursor off the event loop: an fsync must not hold up the broker link."""
        try:
            await asyncio.to_thread(self.store.cursor_save, save.cursor, save.recent)
        except Exception:  # kept in memory and written with the next move; never stop writing
            self.log.exception("the poll cursor could not be saved")
        self._perform(self.link.cursor_written())

    def _retry_due(self, retry: RetryLater) -> None:
        self._perform(self.link.retry_due(retry.message_id, retry.link))

    # --- broker → Session --------------------------------------------------------------

    async def _send_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            item = await self._queue.get()
            if isinstance(item, ShowTyping):
                await loop.run_in_executor(self._sends, self._typing, item.to)
                continue
            try:
                result = await loop.run_in_executor(self._sends, self._send, item)
            except Exception as exc:  # send_handle answers for its own failures; never stop sending
                self.log.exception("send %s failed unexpectedly", item.ref, extra=log_fields(ref=item.ref))
                effects = self.link.send_crashed(item.ref, type(exc).__name__)
            else:
                effects = self.link.send_done(result)
            if self.receiver is not None:
                self.receiver.touch()
            self._perform(effects)

    def _send(self, frame: Send) -> Sent | Failed:
        return send_handle(account=self.send_account, store=self.store, frame=frame)

    def _typing(self, to: str) -> None:
        try:
            self.send_account.typing(to=to)
        except (SessionUnreachable, ValueError) as exc:
            self.log.debug("typing indicator not sent: %s", exc)
        except Exception:  # best effort: a typing indicator must never stop the sender
            self.log.exception("typing indicator not sent")

    # --- the broker link ---------------------------------------------------------------

    async def _connect_loop(self) -> None:
        while not self._stop.is_set():
            opened: ClientConnection | None = None
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
                    opened = ws
                    await self._converse(ws)
            except InvalidStatus as exc:
                self.log.error("the broker refused the bridge (HTTP %s): check BRIDGE_TOKEN", exc.response.status_code)
            except (OSError, WebSocketException, TimeoutError, FrameError) as exc:
                refused = (CLOSE_BRIDGE_CONFLICT, CLOSE_BOT_NOT_SERVED)  # link_lost says why
                if not (isinstance(exc, ConnectionClosed) and exc.rcvd and exc.rcvd.code in refused):
                    self.log.warning("broker connection lost (%s: %s); reconnecting", type(exc).__name__, exc)
            # The broker's close code, if it sent one (4409: another bridge holds the bot).
            for effect in self.link.link_lost(opened.close_code if opened is not None else None):
                if isinstance(effect, Reconnect):
                    await asyncio.sleep(effect.delay)
                else:
                    self._perform([effect])

    async def _converse(self, ws: ClientConnection) -> None:
        outgoing: asyncio.Queue[str] = asyncio.Queue()
        writer = asyncio.create_task(self._write_loop(ws, outgoing))
        self._outgoing = outgoing
        try:
            self._perform(self.link.link_opened())
            while not self.link.up:
                # Not asyncio.wait_for: on Python 3.11 it can swallow a cancel that comes as the
                # frame does, and a bridge stopped between its hello and the welcome never stopped.
                async with asyncio.timeout(WELCOME_TIMEOUT):
                    raw = await ws.recv()
                self._perform(self.link.received(raw))
            self.log.info("connected to the broker at %s", self.cfg.broker_url)
            async for raw in ws:
                self._perform(self.link.received(raw))
        finally:
            self._outgoing = None
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
        if ws.close_code == 4401:
            self.log.error("the broker closed the link with 4401: BRIDGE_TOKEN is wrong")

    @staticmethod
    async def _write_loop(ws: ClientConnection, outgoing: asyncio.Queue[str]) -> None:
        """Write the link's frames one by one, in the order they were decided."""
        while True:
            text = await outgoing.get()
            try:
                await ws.send(text)
            except ConnectionClosed:
                return  # the reader sees the close too; what was lost goes again after the next hello

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.status_interval)
            self._perform(self.link.status_due())

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
            errors={**(health.errors if health else {}), **self.link.errors},
            network="local test network" if self.cfg.network_url else "Session",
        )
