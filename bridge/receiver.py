"""A bot's poll rounds: fetch, decrypt, sort out, download attachments, hand over.

The rounds run on a :class:`bridge.polling.PollScheduler`'s threads, one round of a bot
at a time, so that many bots share a few threads.

It keeps its own fetch position in memory (starting at the persisted cursor); the persisted
cursor itself moves only on the broker's ack (see :mod:`bridge.inbox`).
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bridge.account import Broken, SessionAccount, SessionUnreachable
from bridge.backoff import Backoff
from bridge.botlog import BotLog
from bridge.inbox import Fetched
from bridge.messages import Incoming
from bridge.polling import PollScheduler
from bridgeprotocol.frames import AttachmentFrame, Message, ReplyTo
from bridgeprotocol.logformat import log_fields

log = logging.getLogger(__name__)

MAX_MESSAGE_ATTACHMENT_BYTES = 11_500_000  # keeps a message frame under the 16 MiB limit
# A message whose files cannot be fetched (the file server failing, not gone) holds back
# every message after it: after this many poll rounds (about three minutes with the
# backoff) it goes on without them.
MAX_DOWNLOAD_ROUNDS = 8


@dataclass(frozen=True, slots=True)
class PollTiming:
    active_seconds: float = 1.0
    idle_seconds: float = 5.0
    active_window_seconds: float = 60.0


@dataclass(slots=True)
class ReceiverHealth:
    polling: bool = False
    reachable: bool = True
    last_poll_at: float | None = None
    errors: dict[str, int] = field(default_factory=lambda: {"poll": 0, "decode": 0, "attachment": 0})


class Receiver:
    def __init__(
        self,
        *,
        account: SessionAccount,
        cursor: str,
        since_ms: int,
        deliver: Callable[[list[Fetched]], None],
        backlog_full: Callable[[], bool],
        timing: PollTiming,
        known: Callable[[str], bool],
        bot: str = "",
    ) -> None:
        self.log = BotLog(log, bot)
        self.account, self.fetch_cursor, self.since_ms = account, cursor, since_ms
        self.deliver, self.backlog_full, self.timing = deliver, backlog_full, timing
        self.known = known  # already handed over (waiting or settled): no need to decode it again
        self._download_failures: dict[str, int] = {}
        self.health = ReceiverHealth()
        self.last_activity = 0.0
        self._backoff = Backoff(base=1.0, cap=60.0)
        self._scheduler: PollScheduler | None = None

    def start(self, scheduler: PollScheduler, *, spread: float = 0.0) -> None:
        """Poll on ``scheduler`` from now on, the first round within ``spread`` seconds."""
        self._scheduler = scheduler
        self.health.polling = True
        scheduler.add(self, spread=spread)

    def stop(self) -> None:
        """Stop polling; a round that is running is waited for (this blocks)."""
        if self._scheduler is not None:
            self._scheduler.remove(self)
        self.health.polling = False

    def touch(self) -> None:
        """A conversation is active: poll fast for a while, starting now."""
        self.last_activity = time.monotonic()
        if self._scheduler is not None:
            self._scheduler.wake(self)

    def interval(self) -> float:
        active = time.monotonic() - self.last_activity < self.timing.active_window_seconds
        return self.timing.active_seconds if active else self.timing.idle_seconds

    def round(self) -> float:
        """Poll once; return the seconds until the next round."""
        delay = self.interval()
        try:
            if not self.backlog_full():
                self.poll_once()
            self._mark_reachable()
        except SessionUnreachable as exc:
            self.health.errors["poll"] += 1
            if self.health.reachable:
                self.log.warning("The Session network cannot be reached (%s); retrying with backoff", exc)
            self.health.reachable = False
            delay = self._backoff.next()
        except Exception:
            self.health.errors["poll"] += 1
            self.log.exception("poll round failed; retrying")
            delay = self._backoff.next()
        return delay

    def _mark_reachable(self) -> None:
        if not self.health.reachable:
            self.log.warning("The Session network is reachable again")
        self.health.reachable = True
        self.health.last_poll_at = time.time()
        self._backoff.reset()

    def poll_once(self) -> None:
        """Fetch every page after the fetch position and hand the results over, in order."""
        while True:
            page = self.account.retrieve(last_hash=self.fetch_cursor)
            items: list[Fetched] = []
            try:
                for msg in page.messages:
                    # A mailbox answered again in full (its cursor's message expired) would
                    # otherwise fetch every file of the last two weeks again.
                    items.append(Fetched(msg.hash, None if self.known(msg.hash) else self._frame(msg)))
            finally:
                # what was converted is handed over even if a download then failed
                if items:
                    self.deliver(items)
                    self.fetch_cursor = items[-1].hash
            if not page.more or not page.messages or self.backlog_full():
                return  # (a page that says "more" but holds nothing would loop here for good)

    def _frame(self, msg: Incoming | Broken) -> Message | None:
        if isinstance(msg, Broken):
            self.health.errors["decode"] += 1
            self.log.warning(
                "dropped undecryptable message %s: %s",
                msg.hash[:12],
                msg.reason,
                extra=log_fields(message_hash=msg.hash),
            )
            return None
        if msg.sender == self.account.session_id or msg.sync_target:
            return None  # our own sync copy of something we sent
        if msg.kind != "data" or msg.timestamp < self.since_ms:
            return None
        attachments = self._attachments(msg)
        if not msg.text and not attachments:
            return None  # reactions, profile updates: nothing to answer
        self.last_activity = time.monotonic()
        quote = msg.quote
        return Message(
            id=msg.hash,
            sender=msg.sender,
            conversation=msg.sender,
            conversation_type="private",
            timestamp=msg.timestamp,
            text=msg.text,
            author_name=msg.author_name or None,
            attachments=tuple(attachments) or None,
            reply_to=ReplyTo(id=str(quote.timestamp), author=quote.author, timestamp=quote.timestamp)
            if quote
            else None,
        )

    def _attachments(self, msg: Incoming) -> list[AttachmentFrame]:
        frames, total = [], 0
        for pointer in msg.attachments:
            try:
                data = self.account.download(pointer)  # SessionUnreachable: retried next round
            except ValueError as exc:  # gone, too large, or not decryptable: final
                self.health.errors["attachment"] += 1
                self.log.warning(
                    "skipped attachment %r of %s: %s",
                    pointer.name,
                    msg.hash[:12],
                    exc,
                    extra=log_fields(message_hash=msg.hash),
                )
                continue
            except SessionUnreachable as exc:
                rounds = self._download_failures.get(msg.hash, 0) + 1
                if rounds < MAX_DOWNLOAD_ROUNDS:
                    self._download_failures[msg.hash] = rounds
                    raise
                self._download_failures.pop(msg.hash, None)
                self.health.errors["attachment"] += 1
                name, short = pointer.name, msg.hash[:12]
                self.log.warning(
                    "skipped attachment %r of %s after %d failed rounds: %s",
                    name,
                    short,
                    rounds,
                    exc,
                    extra=log_fields(message_hash=msg.hash),
                )
                continue
            total += len(data)
            if total > MAX_MESSAGE_ATTACHMENT_BYTES:
                self.log.warning(
                    "skipped attachment %r of %s: the message's files are too large",
                    pointer.name,
                    msg.hash,
                    extra=log_fields(message_hash=msg.hash),
                )
                continue
            frames.append(
                AttachmentFrame(
                    name=pointer.name or "file",
                    content_type=pointer.content_type or "application/octet-stream",
                    size=len(data),
                    data_b64=base64.b64encode(data).decode(),
                )
            )
        self._download_failures.pop(msg.hash, None)
        return frames
