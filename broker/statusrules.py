"""Rules behind ``botstatus`` and ``/metrics``: when the bot counts as unhealthy, histogram buckets.

Pure module (no Django): the service in ``broker.status`` gathers the numbers, these
functions judge them, and the tests check them as plain tables.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

# Statuses that count against a plugin's health. ``error`` is a PluginError whose message
# the user saw: the plugin worked as written, so it is not a fault (same rule as the runtime).
FAULT_STATUSES = ("failed", "timeout", "crashed")
FINISHED_STATUSES = ("ok", "error", *FAULT_STATUSES)
IN_PROGRESS_STATUSES = ("queued", "running")

# Seconds; plugins are limited to 10 s by default, so the buckets stop a little above that.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


DEFAULT_MAX_DOWN_SECONDS = 60.0
DEFAULT_MAX_FAILED_SENDS = 0


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When ``botstatus`` exits non-zero."""

    max_down_seconds: float = DEFAULT_MAX_DOWN_SECONDS  # bridge disconnected (or never seen) longer than this
    max_failed_sends: int = DEFAULT_MAX_FAILED_SENDS  # sends given up in the window, more than this


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason the bot is unhealthy; ``code`` is stable for scripts, the rest for people."""

    code: str
    value: float
    limit: float


def bridge_down_seconds(*, connected: bool | None, last_seen: datetime | None, now: datetime) -> float | None:
    """How long the bridge has been gone: ``None`` while connected, ``inf`` if never seen."""
    if connected:
        return None
    if last_seen is None:
        return math.inf
    return max((now - last_seen).total_seconds(), 0.0)


def problems_find(*, bridge_down: float | None, failed_sends: int, thresholds: Thresholds) -> list[Problem]:
    """Every reason to call the bot unhealthy, in the order an operator should look at them."""
    found = []
    if bridge_down is not None and bridge_down > thresholds.max_down_seconds:
        found.append(Problem("bridge_disconnected", bridge_down, thresholds.max_down_seconds))
    if failed_sends > thresholds.max_failed_sends:
        found.append(Problem("failed_sends", failed_sends, thresholds.max_failed_sends))
    return found


def error_ratio(*, faults: int, finished: int) -> float:
    """Share of finished invocations that were faults; 0 when nothing finished."""
    return faults / finished if finished else 0.0


def histogram_cumulate(values: Iterable[float], bounds: Sequence[float]) -> tuple[list[int], float, int]:
    """Cumulative bucket counts (one per bound, then ``+Inf``), the sum and the count."""
    counts = [0] * (len(bounds) + 1)
    total, n = 0.0, 0
    for value in values:
        total += value
        n += 1
        for i, bound in enumerate(bounds):
            if value <= bound:
                counts[i] += 1
        counts[-1] += 1
    return counts, total, n


def age_text(seconds: float | None) -> str:
    """A short, language-neutral age: ``42s``, ``5m``, ``3h``, ``2d``; ``-`` for none or never."""
    if seconds is None or math.isinf(seconds):
        return "-"
    seconds = max(seconds, 0.0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def poll_age_seconds(status: dict[str, object], *, last_seen: datetime | None, now: datetime) -> float | None:
    """Seconds since the bridge last polled the network, from its status frame; None if it never said."""
    at = status.get("last_poll_at")
    if isinstance(at, int | float):
        return max(now.timestamp() - at / 1000, 0.0)
    ms = status.get("last_poll_ms")
    if isinstance(ms, int | float) and last_seen is not None:
        return max(ms / 1000 + (now - last_seen).total_seconds(), 0.0)
    return None


def url_redact(url: str) -> str:
    """``url`` without user name, password and query (which may hold a password either)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc, slash, path = rest.partition("/")
    host = netloc.rpartition("@")[2]
    return f"{scheme}://{host}{slash}{path.partition('?')[0]}"


def status_fields(frame: dict[str, object], *, prefix: str = "", sep: str = ".") -> list[tuple[str, object]]:
    """The fields of a status frame, sorted, nested mappings flattened (``errors.poll``)."""
    fields: list[tuple[str, object]] = []
    for key, value in sorted(frame.items(), key=lambda item: str(item[0])):
        name = f"{prefix}{sep}{key}" if prefix else str(key)
        if isinstance(value, dict) and not prefix:  # one level deep: frames are small and flat
            fields.extend(status_fields(value, prefix=name, sep=sep))
        else:
            fields.append((name, value))
    return fields
