"""Rules behind ``/readyz``: facts in, verdict out.

Pure module (no Django): the checks that apps register gather facts (a heartbeat's age,
how many enabled bots have a live bridge) and these functions judge them, so the rules are
tested as plain tables. The answer is for an unauthenticated probe: its details say what
is wrong in a few words and never carry a secret, a URL, a Session ID or a bot's name.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

READY = 200
NOT_READY = 503
# A worker records itself every 10 s (plugins.queues.HEARTBEAT_SECONDS): three missed beats.
WORKER_STALE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Check:
    """One check's result: ``name`` is stable for scripts, ``detail`` is a few words for people."""

    name: str
    ok: bool
    detail: str


def readiness_verdict(checks: Iterable[Check]) -> tuple[int, dict[str, object]]:
    """The HTTP status and the JSON body of ``/readyz``: ready when every check passed."""
    results = {check.name: {"ok": check.ok, "detail": check.detail} for check in checks}
    ready = all(result["ok"] for result in results.values())
    return (READY if ready else NOT_READY), {"ready": ready, "checks": results}


def heartbeat_check(*, name: str, age_seconds: float | None, stale_after: float = WORKER_STALE_SECONDS) -> Check:
    """Whether the latest heartbeat (``age_seconds`` old, ``None``: none at all) is recent enough."""
    if age_seconds is None or math.isinf(age_seconds):
        return Check(name, False, f"no heartbeat in the last {stale_after:.0f} s")
    age = max(age_seconds, 0.0)
    if age > stale_after:
        return Check(name, False, f"last heartbeat {age:.0f} s ago (stale after {stale_after:.0f} s)")
    return Check(name, True, f"last heartbeat {age:.0f} s ago")


def bridge_live(*, connected: bool, lease_until: datetime | None, now: datetime) -> bool:
    """A bridge counts as connected while its row says so and its lease is renewed.

    A broker process that died leaves its connections marked connected; their leases
    (``broker.bridgelease``) run out within 30 s.
    """
    return connected and lease_until is not None and lease_until > now


def bridges_check(*, enabled: int, live: int) -> Check:
    """Every enabled bot has a live bridge; counts only (the probe is unauthenticated)."""
    if enabled == 0:
        return Check("bridges", True, "no enabled bot")
    if live >= enabled:
        return Check("bridges", True, f"{enabled} of {enabled} enabled bots connected")
    return Check("bridges", False, f"{live} of {enabled} enabled bots connected")


def failure_check(name: str, error: BaseException) -> Check:
    """A check that raised: its exception's class only (a message may hold a URL or a password)."""
    return Check(name, False, f"failed: {type(error).__name__}")
