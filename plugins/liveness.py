"""Whether an unfinished invocation still has a worker on it, or was lost with its worker.

Pure module (no Django import): the broker's recovery sweep and the runtime's claim ask the
same question, so they never disagree about who may run an invocation.

A worker killed mid-invocation (SIGKILL, the machine lost, out of memory) leaves the
invocation ``running`` forever, and a task taken from the queue by a worker that dies
before starting it leaves it ``queued`` forever: Redis (without kombu's acknowledgement
emulation) and the filesystem queue hand a task out once. Nothing but the database knows
the work is unfinished.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

QUEUED = "queued"
RUNNING = "running"


@dataclass(frozen=True, slots=True)
class Thresholds:
    queued_after_seconds: float
    running_margin_seconds: float


def running_abandoned(
    *, started_at: datetime | None, now: datetime, timeout_seconds: float, thresholds: Thresholds
) -> bool:
    """A running invocation whose plugin would have been stopped by now: its worker died.

    The plugin host stops a plugin at its timeout; the margin covers writing the reply and
    a loaded machine. ``started_at`` unset means no worker recorded a start.
    """
    if started_at is None:
        return True
    allowed = timedelta(seconds=timeout_seconds + thresholds.running_margin_seconds)
    return now - started_at > allowed


def invocation_lost(
    *,
    status: str,
    queued_at: datetime,
    started_at: datetime | None,
    now: datetime,
    timeout_seconds: float,
    thresholds: Thresholds,
) -> bool:
    """Whether the recovery sweep should send this invocation to the workers again."""
    if status == QUEUED:
        return now - queued_at > timedelta(seconds=thresholds.queued_after_seconds)
    if status == RUNNING:
        return running_abandoned(started_at=started_at, now=now, timeout_seconds=timeout_seconds, thresholds=thresholds)
    return False
