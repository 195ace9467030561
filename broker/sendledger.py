"""What one bridge connection has been pushed and has answered: pure bookkeeping, no I/O.

The consumer pushes the pending sends that a read of the outbox finds: a read of the refs a
doorbell named, or a poll. Reads wait their turn on the database while the bridge goes on
answering, so a read may return a send as pending that was pushed, answered and confirmed
meanwhile: its snapshot of the outbox may be older than the confirm's commit. Each read
therefore takes a ticket first (``read_begin``), and a send whose answer was stored after
its read began is not pushed by that read.
The ledger also keeps the poll's cursor: ids are handed out at insert, not at commit, so
with several workers a reply can commit after one with a higher id was pushed; each poll
therefore starts from the highest id seen a while ago, and skips the refs already pushed.
"""

from __future__ import annotations

import collections

ANSWERS_KEPT = 10_000  # stored answers remembered, with when, for the reads still under way
LAG_SECONDS = 1.0  # how far behind the highest id seen a poll starts


class SendLedger:
    def __init__(self, *, answers_kept: int = ANSWERS_KEPT, lag_seconds: float = LAG_SECONDS) -> None:
        self.inflight: set[str] = set()  # pushed, not answered yet
        self.retry_refs: set[str] = set()  # failed with retry: the poll asks for them by ref
        # Answered, the answer not stored yet: the outbox still holds them as pending (a
        # ``failed`` with retry, its backoff not stored), and a read meanwhile must not push them.
        self._storing: set[str] = set()
        self._answers = 0  # answers stored so far: a read's ticket
        self._answered: collections.OrderedDict[str, int] = collections.OrderedDict()  # ref → its answer's number
        self._answers_kept = answers_kept
        self._lag = lag_seconds
        self.high_id = 0
        self._high_ids: collections.deque[tuple[float, int]] = collections.deque()  # (when, high_id)

    def read_begin(self) -> int:
        """A read of the outbox begins: its ticket for :meth:`take`."""
        return self._answers

    def take(self, ref: str, read: int) -> bool:
        """Whether to push ``ref``, which the read with ticket ``read`` found pending.

        Not if it is being pushed, if its answer is being stored, or if its answer was
        stored after the read began (the read may have seen it before the answer's commit).
        A ref whose answer was stored before the read began and which is still pending is
        pushed again: the bridge asked for a retry, or its confirm could not be stored.
        """
        if ref in self.inflight or ref in self._storing or self._answered.get(ref, read) > read:
            return False
        self.inflight.add(ref)
        self.retry_refs.discard(ref)
        return True

    def answered(self, ref: str) -> None:
        """The bridge answered ``ref`` (``sent``, or ``failed``); the answer is on its way to
        the database (:meth:`answers_stored`)."""
        self.inflight.discard(ref)
        self.retry_refs.discard(ref)  # a failed-with-retry asks again (``retry_later``)
        self._storing.add(ref)

    def answers_stored(self, refs: list[str]) -> None:
        """The answers of ``refs`` were stored (or given up on: a later read may push them again)."""
        for ref in refs:
            self._storing.discard(ref)
            self._answers += 1
            self._answered[ref] = self._answers
            self._answered.move_to_end(ref)
            if len(self._answered) > self._answers_kept:
                self._answered.popitem(last=False)

    def skip_refs(self) -> frozenset[str]:
        """Refs a poll need not read: being pushed, or their answer being stored."""
        return frozenset(self.inflight | self._storing)

    def retry_later(self, ref: str) -> None:
        """Ask the outbox for ``ref`` by name from now on (once its backoff is stored)."""
        self.retry_refs.add(ref)

    def restart(self) -> None:
        """A new hello: everything pending is pushed again, from the first id."""
        self.inflight.clear()
        self.high_id = 0
        self._high_ids.clear()

    def seen(self, high_id: int) -> None:
        """A poll saw outbox ids up to ``high_id``."""
        self.high_id = max(self.high_id, high_id)

    def lagging_id(self, now: float) -> int:
        """The highest outbox id seen ``lag_seconds`` before ``now``: rows below it have
        committed (or a full scan finds them)."""
        self._high_ids.append((now, self.high_id))
        while len(self._high_ids) > 1 and self._high_ids[1][0] <= now - self._lag:
            self._high_ids.popleft()
        return self._high_ids[0][1]
