"""What the bridge tells the broker, and when: the protocol's rules, no I/O and no asyncio.

The runtime (:mod:`bridge.runtime`) feeds :class:`BrokerLink` what happened (the link opened
or was lost, a frame arrived, the poller fetched messages, a send ended, a cursor write ended,
a timer fired) and performs the effects it gets back, in order. The rules kept here, from
``docs/bridge-protocol.md``:

- ``hello`` first; until the broker's ``welcome`` any other frame ends the link.
- On ``welcome`` every message still waiting for its ack goes again, oldest first, then a
  status. A message fetched while the link is down waits for the next ``welcome``.
- The poll cursor passes a message only once it and every message fetched before it are
  settled, so a crash re-delivers. One cursor write at a time: a move during a write is
  written after it, once, with the latest cursor.
- ``error`` ``internal`` about a waiting message: send it again on the same link after a
  growing delay. ``bad_frame`` about one: the broker will never take it, and waiting for its
  ack would hold the cursor for good, so it is dropped.
- ``typing`` (asked for in the hello): show the typing indicator again; the broker repeats
  it while a command works, since Session shows one for 20 s only.
- One live bridge per bot: the hello names this bridge (``instance``, kept in its state
  directory), so its own reconnects take over from a connection the broker still thinks
  open. A broker that finds another bridge of the bot connected answers ``error``
  ``bridge_conflict`` and closes with 4409: that is logged as an error, and the link is
  tried again after ``CONFLICT_RETRY_SECONDS`` instead of the growing delay.
- A ``send`` is queued once while it waits (a flapping link's every hello brings all pending
  sends again). Its answer goes out on a live link only: after the next hello the broker
  sends it again and the bridge answers from its sent-ref store.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass

from bridge.backoff import Backoff
from bridge.inbox import Fetched, Inbox
from bridgeprotocol.frames import (
    BOT_NOT_SERVED,
    BRIDGE_CONFLICT,
    CLOSE_BOT_NOT_SERVED,
    CLOSE_BRIDGE_CONFLICT,
    PROTOCOL_VERSION,
    TYPING,
    Ack,
    Error,
    Failed,
    FrameError,
    Hello,
    Message,
    Send,
    Sent,
    Typing,
    Welcome,
    parse_frame,
)

RECENT_KEPT = 500  # settled hashes written with the cursor (a mailbox answered again in full)
# Messages fetched and not yet acked, at most (the broker down): in number, and in bytes,
# since one message may carry 11.5 MB of files. The poller stops fetching at either.
MAX_BACKLOG = 500
MAX_BACKLOG_BYTES = 200_000_000
# Refused as a second bridge of the bot: the other one may stop, but not within seconds.
CONFLICT_RETRY_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Emit:
    """Write ``frame`` to the broker link."""

    frame: Hello | Message | Sent | Failed


@dataclass(frozen=True, slots=True)
class EmitStatus:
    """Write a status frame (its health fields are the runtime's to gather)."""


@dataclass(frozen=True, slots=True)
class SaveCursor:
    """Persist the poll cursor and the latest settled hashes, then call :meth:`BrokerLink.cursor_written`."""

    cursor: str
    recent: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RetryLater:
    """After ``delay`` seconds call :meth:`BrokerLink.retry_due` with ``message_id`` and ``link``."""

    message_id: str
    delay: float
    link: int


@dataclass(frozen=True, slots=True)
class StartSend:
    """Queue ``frame`` for the Session sender, then call :meth:`BrokerLink.send_done`."""

    frame: Send


@dataclass(frozen=True, slots=True)
class ShowTyping:
    """Queue a typing indicator to ``to`` for the Session sender."""

    to: str


@dataclass(frozen=True, slots=True)
class Hangup:
    """Close the link (the broker broke the protocol) and reconnect."""

    reason: str


@dataclass(frozen=True, slots=True)
class Reconnect:
    """Open a new link after ``delay`` seconds."""

    delay: float


@dataclass(frozen=True, slots=True)
class Note:
    """Log ``text`` at ``level``."""

    level: int
    text: str


Effect = Emit | EmitStatus | SaveCursor | RetryLater | StartSend | ShowTyping | Hangup | Reconnect | Note


class BrokerLink:
    def __init__(
        self,
        *,
        bot_id: str,
        client: str,
        cursor: str,
        instance: str | None = None,
        settled: tuple[str, ...] = (),
        typing: bool = True,
        rng: random.Random | None = None,
        max_backlog: int = MAX_BACKLOG,
        max_backlog_bytes: int = MAX_BACKLOG_BYTES,
    ) -> None:
        self.bot_id, self.client, self.typing, self.instance = bot_id, client, typing, instance
        self.max_backlog, self.max_backlog_bytes = max_backlog, max_backlog_bytes
        self.inbox = Inbox(cursor=cursor, settled=settled)
        self.errors = {"broker": 0, "send": 0}
        self.link = 0  # the number of the latest link opened
        self.up = False  # welcomed: frames may go out
        self._not_served = ""  # why the broker last said it does not serve this bot
        self._rng = rng or random.Random()  # noqa: S311 - jitter for the delays, not a secret
        self._reconnects = Backoff(base=0.5, cap=30.0, rng=self._rng)
        self.retries: dict[str, Backoff] = {}  # messages the broker could not store, by id
        self._queued_refs: set[str] = set()  # sends queued and not answered yet
        self._writing = False  # a cursor write is under way
        self._write_again = False  # the cursor moved during it

    # --- the link ----------------------------------------------------------------------

    def link_opened(self) -> list[Effect]:
        """A new WebSocket is open: say hello and wait for the welcome."""
        self.link += 1
        self.up = False
        # Listing "typing" asks the broker to keep the indicator up while a command works.
        features = (TYPING,) if self.typing else None
        hello = Hello(
            protocol=PROTOCOL_VERSION, bot_id=self.bot_id, client=self.client, features=features, instance=self.instance
        )
        return [Emit(hello)]

    def link_lost(self, close_code: int | None = None) -> list[Effect]:
        """The link closed (with ``close_code``, if the broker sent one) or could not be
        opened: try again after a growing delay, or a long one if another bridge holds the bot."""
        self.up = False
        self.errors["broker"] += 1
        if close_code == CLOSE_BOT_NOT_SERVED:
            text = (
                f"the broker does not serve bot {self.bot_id} (close code {CLOSE_BOT_NOT_SERVED}): "
                f"{self._not_served or 'the bot is disabled or removed'}. Trying again in "
                f"{CONFLICT_RETRY_SECONDS:.0f} s"
            )
            return [Note(logging.ERROR, text), Reconnect(CONFLICT_RETRY_SECONDS)]
        if close_code == CLOSE_BRIDGE_CONFLICT:
            text = (
                f"the broker refused this bridge of bot {self.bot_id}: another bridge of the bot is connected "
                f"(close code {CLOSE_BRIDGE_CONFLICT}); run one bridge per bot. Trying again in "
                f"{CONFLICT_RETRY_SECONDS:.0f} s"
            )
            return [Note(logging.ERROR, text), Reconnect(CONFLICT_RETRY_SECONDS)]
        return [Reconnect(self._reconnects.next())]

    def received(self, raw: str | bytes) -> list[Effect]:
        """A text frame from the broker."""
        try:
            frame = parse_frame(raw)
        except FrameError as exc:
            if not self.up:
                return [Hangup(exc.detail)]
            return [Note(logging.WARNING, f"ignored a frame from the broker: {exc.detail}")]
        if not self.up:
            if isinstance(frame, Welcome):
                return self._welcomed()
            if isinstance(frame, Error) and frame.code == BRIDGE_CONFLICT:
                return []  # the close (4409) follows; link_lost says it
            if isinstance(frame, Error) and frame.code in BOT_NOT_SERVED:
                self._not_served = frame.detail[:300]
                return []  # the close (4403) follows; link_lost says it, with this reason
            return [Hangup(f"expected welcome, got {frame.type}")]
        if isinstance(frame, Ack):
            return self._acked(frame)
        if isinstance(frame, Send):
            if frame.ref in self._queued_refs:
                return []
            self._queued_refs.add(frame.ref)
            return [StartSend(frame)]
        if isinstance(frame, Error):
            return self._refused(frame)
        if isinstance(frame, Typing):
            return [ShowTyping(frame.to)] if self.typing else []
        return []  # a second welcome: nothing to do

    def _welcomed(self) -> list[Effect]:
        self.up = True
        self._reconnects.reset()
        effects: list[Effect] = [Emit(msg) for msg in self.inbox.waiting()]
        effects.append(EmitStatus())
        return effects

    def _acked(self, ack: Ack) -> list[Effect]:
        effects: list[Effect] = []
        if ack.status == "rejected":
            effects.append(Note(logging.WARNING, f"broker rejected message {ack.id[:12]}: {ack.reason}"))
        frame = self.inbox.frame(ack.id)
        effects += self._settle(ack.id)
        if ack.status == "accepted" and frame is not None and self.typing:
            effects.append(ShowTyping(frame.conversation))
        return effects

    def _refused(self, error: Error) -> list[Effect]:
        if error.code == BRIDGE_CONFLICT:
            return []  # a newer connection of this bridge took over; the close (4409) follows
        effects: list[Effect] = [Note(logging.WARNING, f"broker error {error.code}: {error.detail}")]
        if not error.id or self.inbox.frame(error.id) is None:
            return effects
        if error.code == "internal":
            backoff = self.retries.setdefault(error.id, Backoff(base=1.0, cap=60.0, rng=self._rng))
            effects.append(RetryLater(error.id, backoff.next(), self.link))
        elif error.code == "bad_frame":
            text = f"the broker refused message {error.id[:12]} as a bad frame; dropped: {error.detail}"
            effects.append(Note(logging.ERROR, text))
            effects += self._settle(error.id)
        return effects

    def retry_due(self, message_id: str, link: int) -> list[Effect]:
        """A :class:`RetryLater` delay ended: send the message again, unless it was acked
        meanwhile or the link changed (its welcome sent every waiting message)."""
        frame = self.inbox.frame(message_id)
        if frame is None or link != self.link or not self.up:
            return []
        return [Emit(frame)]

    def status_due(self) -> list[Effect]:
        return [EmitStatus()] if self.up else []

    # --- Session → broker --------------------------------------------------------------

    def fetched(self, items: Iterable[Fetched]) -> list[Effect]:
        """The poller handed over messages, oldest first."""
        effects: list[Effect] = []
        before = self.inbox.cursor
        for item in items:
            if self.inbox.add(item) and item.frame is not None and self.up:
                effects.append(Emit(item.frame))
        if self.inbox.cursor != before:
            effects += self._cursor_moved()
        return effects

    def backlog_full(self) -> bool:
        """Whether the poller should stop fetching until the broker acks."""
        return len(self.inbox) >= self.max_backlog or self.inbox.waiting_bytes >= self.max_backlog_bytes

    def _settle(self, message_id: str) -> list[Effect]:
        self.retries.pop(message_id, None)
        return self._cursor_moved() if self.inbox.settle(message_id) else []

    def _cursor_moved(self) -> list[Effect]:
        if self._writing:
            self._write_again = True
            return []
        self._writing = True
        return [SaveCursor(self.inbox.cursor, self.inbox.settled_recent(RECENT_KEPT))]

    def cursor_written(self) -> list[Effect]:
        """The last :class:`SaveCursor` ended, written or not (a failed write is kept in
        memory and written with the next move; a crash meanwhile re-delivers, and the broker
        acks those as duplicates)."""
        self._writing = False
        if not self._write_again:
            return []
        self._write_again = False
        return self._cursor_moved()

    # --- broker → Session --------------------------------------------------------------

    def send_done(self, result: Sent | Failed) -> list[Effect]:
        """The sender answered a :class:`StartSend`."""
        self._queued_refs.discard(result.ref)
        if isinstance(result, Failed):
            self.errors["send"] += 1
        return [Emit(result)] if self.up else []

    def send_crashed(self, ref: str, error: str) -> list[Effect]:
        """The sender raised ``error`` (a class name) instead of answering: the broker tries later."""
        return self.send_done(Failed(ref=ref, reason=f"the bridge failed on this send ({error})", retry=True))
