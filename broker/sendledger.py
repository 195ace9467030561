"""What one bridge connection has been pushed and has answered: pure bookkeeping, no I/O.

The consumer pushes a pending send when a ring carries it or a poll of the outbox finds it.
Both may see the same send, and a ring may arrive after the bridge already answered it, so
the consumer asks this ledger before each push. It also keeps the poll's cursor: ids are
handed out at insert, not at commit, so with several workers a reply can commit after one
with a higher id was pushed; each poll therefore starts from the highest id seen a while
ago, and skips the refs already pushed.
"""

from __future__ import annotations

import collections

SETTLED_KEPT = 10_000  # answered refs remembered, so that a late ring does not push them again
LAG_SECONDS = 1.0  # how far behind the highest id seen a poll starts


class SendLedger:
    def __init__(self, *, settled_kept: int = SETTLED_KEPT, lag_seconds: float = LAG_SECONDS) -> None:
        self.inflight: set[str] = set()  # pushed, not answered yet
        self.retry_refs: set[str] = set()  # failed with retry: the poll asks for them by ref
        # Answered ``sent``, the confirm not stored yet: the outbox still holds them as
        # pending, and a poll meanwhile must not push them again.
        self._confirming: set[str] = set()
        self._settled: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._settled_kept = settled_kept
        self._lag = lag_seconds
        self.high_id = 0
        self._high_ids: collections.deque[tuple[float, int]] = collections.deque()  # (when, high_id)

    def take_rung(self, ref: str) -> bool:
        """Whether to push ``ref``, which a ring carries: not if pushed or answered lately."""
        if ref in self.inflight or ref in self._settled:
            return False
        self._pushed(ref)
        return True

    def take_polled(self, ref: str) -> bool:
        """Whether to push ``ref``, which a poll found pending: not if it is being pushed, or
        its confirm is being stored.

        A ref answered lately is pushed again: the outbox still holds it as pending, so the
        bridge asked for a retry, or its confirm could not be stored.
        """
        if ref in self.inflight or ref in self._confirming:
            return False
        self._pushed(ref)
        return True

    def _pushed(self, ref: str) -> None:
        self.inflight.add(ref)
        self.retry_refs.discard(ref)

    def settle(self, ref: str) -> None:
        """The bridge answered ``ref``: ``sent``, or ``failed``."""
        self.inflight.discard(ref)
        self.retry_refs.discard(ref)  # a failed-with-retry asks again (``retry_later``)
        self._settled[ref] = None
        self._settled.move_to_end(ref)
        if len(self._settled) > self._settled_kept:
            self._settled.popitem(last=False)

    def sent(self, ref: str) -> None:
        """The bridge answered ``sent``; its confirm is on its way to the database."""
        self.settle(ref)
        self._confirming.add(ref)

    def confirms_stored(self, refs: list[str]) -> None:
        """The confirms of ``refs`` were stored (or given up on: a poll may push them again)."""
        self._confirming.difference_update(refs)

    def skip_refs(self) -> frozenset[str]:
        """Refs a poll need not read: being pushed, or their confirm being stored."""
        return frozenset(self.inflight | self._confirming)

    def retry_later(self, ref: str) -> None:
        """Ask the outbox for ``ref`` by name from now on (once its backoff is stored)."""
        self.retry_refs.add(ref)

    def settled(self, ref: str) -> bool:
        return ref in self._settled

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
