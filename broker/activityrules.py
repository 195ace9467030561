"""Counting the bot's activity into time slots, and percentiles from histogram buckets.

Pure module (no Django): ``broker.activity`` reads the rows and stores hourly rollups,
these functions do the arithmetic, and table tests check it. A latency histogram is a list
of per-bucket counts (not cumulative), one per bound of ``DURATION_BUCKETS`` and one for
everything above the last bound, so hours add up by adding lists.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from broker.statusrules import DURATION_BUCKETS, FAULT_STATUSES, FINISHED_STATUSES, error_ratio

BUCKETS = len(DURATION_BUCKETS) + 1
Key = tuple[int, str]  # (bot id, plugin name; "" for a message no plugin handled)


def latency_empty() -> list[int]:
    return [0] * BUCKETS


@dataclass(slots=True)
class Tally:
    """What one bot and one plugin did in one slot of time."""

    messages_in: int = 0
    messages_out: int = 0
    invocations: int = 0
    finished: int = 0
    faults: int = 0
    latency: list[int] = field(default_factory=latency_empty)

    def add(self, other: Tally) -> None:
        self.messages_in += other.messages_in
        self.messages_out += other.messages_out
        self.invocations += other.invocations
        self.finished += other.finished
        self.faults += other.faults
        self.latency = list(map(operator.add, self.latency, other.latency))

    @property
    def error_ratio(self) -> float:
        return error_ratio(faults=self.faults, finished=self.finished)

    def quantile(self, q: float) -> float | None:
        return bucket_quantile(q, self.latency)


@dataclass(frozen=True, slots=True)
class Events:
    """Raw rows of a span of time: (bot, plugin, when[, more]) tuples."""

    received: Sequence[tuple[int, str, datetime, datetime | None]]  # message stored, first reply part sent
    sent: Sequence[tuple[int, str, datetime]]  # reply part confirmed sent
    queued: Sequence[tuple[int, str, datetime, str]]  # invocation queued, its status


def bucket_of(seconds: float, bounds: Sequence[float] = DURATION_BUCKETS) -> int:
    """Index of the bucket ``seconds`` falls in; ``len(bounds)`` above the last bound."""
    for i, bound in enumerate(bounds):
        if seconds <= bound:
            return i
    return len(bounds)


def bucket_quantile(q: float, counts: Sequence[int], bounds: Sequence[float] = DURATION_BUCKETS) -> float | None:
    """The ``q`` quantile estimated from bucket counts, as Prometheus' histogram_quantile does.

    Linear within the bucket it falls in (the first bucket starts at 0); ``inf`` when it
    falls above the last bound; ``None`` with no observations.
    """
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(counts):
        if count and seen + count >= rank:
            if i == len(bounds):
                return math.inf
            lower = bounds[i - 1] if i else 0.0
            return lower + (bounds[i] - lower) * (rank - seen) / count
        seen += count
    return math.inf


def slot_index(moment: datetime, *, start: datetime, width: timedelta, slots: int) -> int | None:
    """Which of ``slots`` slots of ``width`` from ``start`` holds ``moment``; None outside them."""
    if moment < start:
        return None
    i = int((moment - start) / width)
    return i if i < slots else None


def events_tally(events: Events, *, start: datetime, width: timedelta, slots: int) -> dict[tuple[Key, int], Tally]:
    """Count ``events`` per (bot, plugin) and slot; rows outside the slots are left out."""
    found: dict[tuple[Key, int], Tally] = {}

    def tally(bot: int, plugin: str, moment: datetime) -> Tally | None:
        i = slot_index(moment, start=start, width=width, slots=slots)
        if i is None:
            return None
        return found.setdefault(((bot, plugin), i), Tally())

    for bot, plugin, received, first_sent in events.received:
        if (t := tally(bot, plugin, received)) is not None:
            t.messages_in += 1
            if first_sent is not None:
                t.latency[bucket_of(max((first_sent - received).total_seconds(), 0.0))] += 1
    for bot, plugin, sent in events.sent:
        if (t := tally(bot, plugin, sent)) is not None:
            t.messages_out += 1
    for bot, plugin, queued, status in events.queued:
        if (t := tally(bot, plugin, queued)) is not None:
            t.invocations += 1
            t.finished += status in FINISHED_STATUSES
            t.faults += status in FAULT_STATUSES
    return found


def tallies_sum(tallies: Iterable[Tally]) -> Tally:
    total = Tally()
    for one in tallies:
        total.add(one)
    return total


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    """The whole hours that begin in [``start``, ``end``), ``start`` rounded down."""
    hour = start.replace(minute=0, second=0, microsecond=0)
    found = []
    while hour < end:
        found.append(hour)
        hour += timedelta(hours=1)
    return found
