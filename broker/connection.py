"""One bridge connection's protocol (docs/bridge-protocol.md), as a pure core: no I/O.

Frames, doorbell rings, clock ticks and the results of database jobs go in; frames to write
and jobs to perform come out (``broker.connection_jobs``), in the order they must happen.
The consumer (``broker.consumers``) performs them and feeds the results back. The rules
that ordering serves:

- Frames take effect in order. A ``hello`` or a ``failed`` waits for the ``sent`` confirms
  received before it to be stored (a hello pushes again what is still pending), and the
  frames after a ``hello``, ``failed`` or ``status`` wait for its store.
- Messages are stored in batches, one lane per sender (so in order per sender), each batch
  after the confirms received before it was cut. Its acks are written when it is stored.
- Confirms are stored in the order they came, many per job, one job at a time.
- A ``send`` is never written before the ``ack`` of the message it answers: a read of the
  outbox may have seen rows committed by a batch still being stored, so its sends wait for
  the acks of every batch begun when the read returned.
- Which sends a read may push, and where a poll starts, is the ``SendLedger``'s.
- Reads go one at a time: the refs rings named first, then a poll when one is due.
- A bridge that lists the ``typing`` feature in its hello gets a ``typing`` frame for every
  conversation whose command is still being worked on, every ``TYPING_REFRESH_SECONDS``
  (Session shows a typing indicator for 20 s): the user sees the bot typing until it answers.
"""

from __future__ import annotations

import collections
import logging
import zlib
from datetime import datetime
from typing import Any

from bridgeprotocol.frames import (
    MAX_FRAME_BYTES,
    TYPING,
    TYPING_REFRESH_SECONDS,
    Ack,
    Error,
    Failed,
    FrameError,
    Hello,
    Message,
    Sent,
    Status,
    Typing,
    Welcome,
    parse_frame,
)
from broker.connection_jobs import (
    AcceptMany,
    Close,
    ConfirmMany,
    Effect,
    FailStore,
    Found,
    Job,
    Note,
    ReadDue,
    ReadRung,
    ReadWorking,
    StatusStore,
    StoreClose,
    StoreHello,
    Write,
)
from broker.sendledger import SendLedger
from broker.validator import frame_fault

FAST_POLL_SECONDS = 0.01  # while messages flow: the worker's replies show up within ms
# With a shared (Redis) channel layer every reply rings the doorbell with its refs: the poll
# is only the safety net for a lost ring.
IDLE_POLL_SECONDS = 1.0
ACTIVE_SECONDS = 10.0
RESCAN_SECONDS = 5.0  # a full scan now and then catches what the lagging cursor missed
ACCEPT_BATCH = 64  # messages stored per transaction at most (SQLite's writer lock is held meanwhile)
POLL_LIMIT = 500  # rows a poll reads, beyond those pushed and awaiting their confirm
STORE_FAILED = "the broker could not store this message; send it again later"
FRAME_FAILED = "the broker failed on this frame; try again"
CLOSE_TOO_BIG = 1009


def frame_failed(frame_id: str | None = None, detail: str = FRAME_FAILED) -> Write:
    """The ``error`` ``internal`` that answers a frame the broker failed on."""
    return Write(Error(code="internal", detail=detail, id=frame_id).dump())


class Connection:
    """The protocol state of one bridge connection; every method returns effects to perform."""

    def __init__(self, *, lanes: int, rung: bool) -> None:
        self.rung = rung  # a shared channel layer rings every committed send by ref
        self.bot_id: str | None = None
        self.bot = 0  # the bot's key, known once its hello is stored
        self.hello_at: datetime | None = None  # when this connection's hello was recorded
        self.closed = False
        self.ledger = SendLedger()
        # Received, not taken yet: parsed frames, and the answers to frames that did not parse.
        self._frames: collections.deque[Any] = collections.deque()
        self._frame_job = False  # a hello, failed or status being stored: later frames wait
        self._close_stored = False
        # Messages, per lane: arrived and not in a batch yet; a batch being stored.
        self._arrived: list[list[Message]] = [[] for _ in range(lanes)]
        self._storing = [False] * lanes
        self._confirms_due: list[int | None] = [None] * lanes  # confirms the lane's next batch waits for
        self._begun = [0] * lanes  # batches begun per lane
        self._acked = [0] * lanes  # of those, answered
        self._confirms: list[tuple[str, str, int]] = []  # received, not being stored yet
        self._confirming = 0  # confirms in the job under way
        self._confirms_seen = 0
        self._confirms_done = 0  # stored or given up on
        # The send pump.
        # The read under way: the job, its ledger ticket, and a poll's kind (full scan, after hello).
        self._reading: tuple[ReadRung | ReadDue, int, bool, bool] | None = None
        self._held: tuple[list[dict[str, Any]], list[int]] | None = None  # read, waiting for acks
        self.rung_refs: dict[str, None] = {}  # named by rings, not read yet (in order)
        self.poll_now = self.full_scan = self.after_hello = False  # set by each hello
        self.active_until = 0.0
        self._last_poll: float | None = None  # none before the first hello: no pump yet
        self._last_full = 0.0
        # Typing indicators: wanted by the bridge (its hello), when the next read is due.
        self.typing = False
        self._typing_at: float | None = None
        self._typing_reading = False
        # Sent to while the read was under way: maybe the answer, which a typing frame
        # written after it would contradict for 20 s. Those wait for the next refresh.
        self._answered_to: set[str] = set()

    # --- inputs ---------------------------------------------------------------------------

    def frame_received(self, raw: str | bytes) -> list[Effect]:
        """A WebSocket frame from the bridge (``bytes``: a binary frame)."""
        if self.closed:
            return []
        self._frames.append(_frame_parse(raw))
        return self._frames_take()

    def ring(self, refs: tuple[str, ...], *, poll: bool, now: float) -> list[Effect]:
        """A doorbell ring: sends ``refs`` were committed (``poll``: others too, unnamed)."""
        if self.bot_id is not None:  # before hello the first poll gets everything anyway
            self.rung_refs.update(dict.fromkeys(refs))
            self.poll_now = self.poll_now or poll
        return self._pump(now)

    def tick(self, *, now: float) -> list[Effect]:
        """The clock reached :meth:`deadline`."""
        return self._pump(now) + self._typing_due(now)

    def deadline(self, *, now: float) -> float | None:
        """When the next poll (unless a read is under way or there is no pump) or the next
        typing refresh is due."""
        if self.closed:
            return None
        due: list[float] = []
        if self._last_poll is not None and self._reading is None:
            due.append(self._last_poll + self._interval(now))
        if self._typing_at is not None and not self._typing_reading:
            due.append(self._typing_at)
        return min(due, default=None)

    @property
    def holding(self) -> bool:
        """Frames wait for earlier ones to take effect (the adapter reads no more meanwhile)."""
        return self._frame_job or bool(self._frames)

    def close(self) -> list[Effect]:
        """The WebSocket closed. Messages not in a batch yet are dropped unacked (the bridge
        sends them again); the batches and confirms under way complete."""
        self.closed = True
        self._frames.clear()
        for arrived in self._arrived:
            arrived.clear()
        self.rung_refs.clear()
        return self._close_check()

    def job_done(self, job: Job, result: Any, *, now: float) -> list[Effect]:
        """``job`` completed with ``result`` (see the job's class)."""
        match job:
            case AcceptMany():
                return self._accepted(job, result, now)
            case ConfirmMany():
                return self._confirmed(job)
            case ReadRung() | ReadDue():
                return self._found(job, result, now)
            case StoreHello():
                return self._hello_stored(job, result, now)
            case FailStore():
                self.ledger.answers_stored([job.ref])
                if job.retry:
                    self.ledger.retry_later(job.ref)
                return self._frame_job_done()
            case StatusStore():
                return self._frame_job_done()
            case ReadWorking():
                return self._typing_read(result, now)
        return []

    def job_failed(self, job: Job, *, now: float) -> list[Effect]:
        """``job`` raised (the adapter logs the exception)."""
        match job:
            case AcceptMany():
                return self._accepted(job, None, now)
            case ConfirmMany():
                # Unconfirmed sends stay pending: a reconnecting bridge gets them again and
                # de-duplicates them by ref.
                return self._confirmed(job)
            case ReadRung() | ReadDue():
                return self._read_failed(now)
            case ReadWorking():
                return self._typing_read((), now)
            case StoreHello() | FailStore() | StatusStore():
                if isinstance(job, FailStore):
                    self.ledger.answers_stored([job.ref])
                effects: list[Effect] = [] if self.closed else [frame_failed()]
                return effects + self._frame_job_done()
        return []

    # --- frames ---------------------------------------------------------------------------

    def _frames_take(self) -> list[Effect]:
        effects: list[Effect] = []
        while self._frames and not self._frame_job:
            frame = self._frames[0]
            if isinstance(frame, Hello | Failed) and self._confirms_done < self._confirms_seen:
                break  # taken once the confirms before it are stored (a hello pushes what is pending)
            self._frames.popleft()
            if isinstance(frame, Write | Close):
                effects.append(frame)
                continue
            try:
                effects += self._frame_handle(frame)
            except FrameError as exc:
                effects.append(_frame_error(exc))
        return effects

    def _frame_handle(self, frame: Any) -> list[Effect]:
        if isinstance(frame, Message):
            return self._message(frame)
        if isinstance(frame, Sent):
            self.ledger.answered(frame.ref)
            self._confirms.append((frame.ref, frame.hash, frame.timestamp))
            self._confirms_seen += 1
            return self._confirm_next()
        if isinstance(frame, Hello):
            if self.bot_id is not None and frame.bot_id != self.bot_id:
                raise FrameError("a connection serves one bot: say hello again as the same bot")
            self.typing = TYPING in (frame.features or ())
            self._frame_job = True
            return [StoreHello(bot_id=frame.bot_id, client=frame.client, protocol=frame.protocol)]
        if isinstance(frame, Failed):
            self.ledger.answered(frame.ref)
            self._frame_job = True
            return [FailStore(ref=frame.ref, reason=frame.reason, retry=frame.retry)]
        if isinstance(frame, Status):
            if self.bot_id is None:
                return []
            self._frame_job = True
            return [StatusStore(bot_id=self.bot_id, fields=frame.dump())]
        raise FrameError(f"a bridge does not send {frame.type!r} frames")

    def _frame_job_done(self) -> list[Effect]:
        self._frame_job = False
        return self._frames_take() + self._close_check()

    def _hello_stored(self, job: StoreHello, result: Any, now: float) -> list[Effect]:
        if result.refused:
            self._frame_job = False
            text = f"refused the bridge of bot {job.bot_id}: {result.refused}"
            error = Error(code=result.refused_code, detail=result.refused)
            return [Note(logging.WARNING, text), Write(error.dump()), Close(result.close_code), *self.close()]
        effects: list[Effect] = []
        if result.another_open and self.hello_at is None:
            text = (
                f"the bridge of bot {job.bot_id} said hello while another connection of it was open: a "
                "reconnect whose old connection has not closed yet, a broker process that stopped without "
                "closing it, or a second bridge (run one bridge per bot, or users may get replies twice)"
            )
            effects.append(Note(logging.WARNING, text))
        self.bot_id, self.bot, self.hello_at = job.bot_id, result.bot, result.connected_at
        effects.append(Note(logging.INFO, f"bridge said hello: protocol {job.protocol}, client {job.client[:60]}"))
        if self.closed:
            return effects + self._frame_job_done()
        effects.append(Write(Welcome().dump()))
        self.ledger.restart()
        self.full_scan = self.after_hello = self.poll_now = True
        if self._last_poll is None:
            self._last_poll = self._last_full = now
        # The bridge shows one when it acks a message; from then on the broker keeps it up.
        self._typing_at = now + TYPING_REFRESH_SECONDS if self.typing else None
        return effects + self._pump(now) + self._frame_job_done()

    # --- messages -------------------------------------------------------------------------

    def _message(self, frame: Message) -> list[Effect]:
        if self.bot_id is None:
            raise FrameError("say hello before sending messages", code="no_hello", frame_id=frame.id)
        # surrogatepass: a sender that holds a lone surrogate is rejected in its batch, not here.
        lane = zlib.crc32(frame.sender.encode("utf-8", "surrogatepass")) % len(self._arrived)
        self._arrived[lane].append(frame)
        return self._batch_next(lane)

    def _batch_next(self, lane: int) -> list[Effect]:
        """Begin the lane's next batch, once its last one is stored and the confirms received
        before it are."""
        arrived = self._arrived[lane]
        if self._storing[lane] or not arrived or self.bot_id is None:
            return []
        due = self._confirms_due[lane]
        if due is None:
            due = self._confirms_due[lane] = self._confirms_seen
        if self._confirms_done < due:
            return []
        self._confirms_due[lane] = None
        batch = tuple(arrived[:ACCEPT_BATCH])
        del arrived[:ACCEPT_BATCH]
        self._storing[lane] = True
        self._begun[lane] += 1
        return [AcceptMany(lane=lane, bot=self.bot, bot_id=self.bot_id, messages=batch)]

    def _accepted(self, job: AcceptMany, results: Any, now: float) -> list[Effect]:
        """Answer each message of the batch: ``ack``, or ``error`` if it was not stored."""
        lane = job.lane
        self._storing[lane] = False
        self._acked[lane] += 1
        effects: list[Effect] = []
        if results is None:
            results = [None] * len(job.messages)
        for frame, result in zip(job.messages, results, strict=True):
            if result is None or result.status == "failed":
                effects.append(frame_failed(frame.id, STORE_FAILED))
            else:
                effects.append(Write(Ack(id=frame.id, status=result.status, reason=result.reason).dump()))
        if self.closed:
            return self._close_check()  # the acks cannot reach a closed connection
        if any(result is not None and result.status == "accepted" for result in results):
            self.active_until = now + ACTIVE_SECONDS
            if not self.rung:
                self.poll_now = True  # broker answers stored with the batch; a shared layer rings them
        return effects + self._held_push(now) + self._batch_next(lane) + self._pump(now)

    # --- confirms -------------------------------------------------------------------------

    def _confirm_next(self) -> list[Effect]:
        if self._confirming or not self._confirms:
            return []
        batch, self._confirms = tuple(self._confirms), []
        self._confirming = len(batch)
        return [ConfirmMany(confirms=batch)]

    def _confirmed(self, job: ConfirmMany) -> list[Effect]:
        self.ledger.answers_stored([ref for ref, _, _ in job.confirms])
        self._confirms_done += self._confirming
        self._confirming = 0
        effects = self._confirm_next() + self._frames_take()
        for lane in range(len(self._arrived)):
            effects += self._batch_next(lane)
        return effects + self._close_check()

    # --- the send pump --------------------------------------------------------------------

    def _interval(self, now: float) -> float:
        fast = IDLE_POLL_SECONDS if self.rung else FAST_POLL_SECONDS
        return fast if now < self.active_until else IDLE_POLL_SECONDS

    def _pump(self, now: float) -> list[Effect]:
        """Begin the next read, if none is under way: the rung refs, or a poll when due."""
        if self.closed or self._last_poll is None or self._reading is not None:
            return []
        job: ReadRung | ReadDue
        full = after_hello = False
        if self.rung_refs:
            job = ReadRung(bot=self.bot, refs=tuple(self.rung_refs))
            self.rung_refs = {}
        elif self.poll_now or now - self._last_poll >= self._interval(now):
            if now - self._last_full > RESCAN_SECONDS:
                self.full_scan, self._last_full = True, now
            self.poll_now, self._last_poll = False, now
            full, after_hello = self.full_scan, self.after_hello
            self.full_scan = self.after_hello = False
            ledger = self.ledger
            job = ReadDue(
                bot=self.bot,
                after_id=0 if full else ledger.lagging_id(now),
                retry_refs=frozenset(ledger.retry_refs),
                limit=POLL_LIMIT + len(ledger.inflight),  # pushed rows awaiting their confirm come back too
                due_only=not after_hello,  # a reconnect gets every pending send, backoff or not
                skip_refs=ledger.skip_refs(),
            )
        else:
            return []
        self._reading = (job, self.ledger.read_begin(), full, after_hello)
        return [job]

    def _found(self, job: ReadRung | ReadDue, found: Found, now: float) -> list[Effect]:
        if self.closed:
            return []
        if isinstance(job, ReadDue):
            self.ledger.seen(found.high_id)
            self.poll_now = self.poll_now or found.more  # more than one batch is waiting
        # Batches begun by now may have committed rows this read saw (counted when the read
        # returns, not when it began: a batch may begin and commit while the read waits).
        begun = list(self._begun)
        self._held = (found.sends, begun)
        return self._held_push(now)

    def _held_push(self, now: float) -> list[Effect]:
        """Write the sends of the last read once the acks of the batches begun by its return
        are written: an answer never overtakes its message's ack."""
        if self._held is None:
            return []
        sends, begun = self._held
        if sends and any(self._acked[lane] < count for lane, count in enumerate(begun)):
            return []
        self._held = None
        assert self._reading is not None
        ticket = self._reading[1]
        self._reading = None
        effects: list[Effect] = [Write(send) for send in sends if self.ledger.take(send["ref"], ticket)]
        if self._typing_reading:
            self._answered_to.update(effect.frame["to"] for effect in effects if isinstance(effect, Write))
        if effects:
            self.active_until = now + ACTIVE_SECONDS
        return effects + self._pump(now)

    def _read_failed(self, now: float) -> list[Effect]:
        assert self._reading is not None
        _, _, full, after_hello = self._reading
        self._reading = None
        # The next poll does what this one could not (a reconnect's sends in backoff too).
        self.full_scan, self.after_hello = self.full_scan or full, self.after_hello or after_hello
        self.active_until = 0.0  # back off to the idle poll while the database is unwell
        return self._pump(now)

    # --- typing indicators ----------------------------------------------------------------

    def _typing_due(self, now: float) -> list[Effect]:
        if self.closed or self._typing_at is None or self._typing_reading or now < self._typing_at:
            return []
        self._typing_reading = True
        self._answered_to = set()
        return [ReadWorking(bot=self.bot)]

    def _typing_read(self, conversations: Any, now: float) -> list[Effect]:
        self._typing_reading = False
        if self.closed or self._typing_at is None:
            return []
        self._typing_at = now + TYPING_REFRESH_SECONDS
        return [Write(Typing(to=to).dump()) for to in conversations if to not in self._answered_to]

    # --- closing --------------------------------------------------------------------------

    def _close_check(self) -> list[Effect]:
        """Once closed and every store under way is done, record the close (once)."""
        if not self.closed or self._close_stored or self._frame_job or self._confirming or any(self._storing):
            return []
        self._close_stored = True
        if self.bot_id is None or self.hello_at is None:
            return []
        return [StoreClose(bot_id=self.bot_id, connected_at=self.hello_at)]


def _frame_error(exc: FrameError) -> Write:
    return Write(Error(code=exc.code, detail=exc.detail, id=exc.frame_id).dump())


def _frame_parse(raw: str | bytes) -> Any:
    """The frame in ``raw``, valid in every field, or the effect that answers it."""
    size = len(raw) if isinstance(raw, bytes) or len(raw) * 4 <= MAX_FRAME_BYTES else len(raw.encode())
    if size > MAX_FRAME_BYTES:
        return Close(CLOSE_TOO_BIG)
    try:
        if isinstance(raw, bytes):
            raise FrameError("frames must be JSON in text frames, not binary")
        frame = parse_frame(raw)
        fault = frame_fault(frame)  # every field of the frame, before anything is stored
        if fault is not None:
            raise FrameError(fault, frame_id=frame.id if isinstance(frame, Message) else None)
    except FrameError as exc:
        return _frame_error(exc)
    return frame
