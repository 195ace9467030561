"""Durations as people read them: ``571 ms``, ``4.2 ms``, ``1.3 s``, ``1 min 15 s``.

Pure module (no Django): the admin shows every duration through ``duration_text``, so a
run of 0.5714279996 s reads ``571 ms`` wherever it appears. The units are the SI symbols
(and ``min``, ``h``), written the same in every language the admin speaks.
"""

from __future__ import annotations

import math


def duration_text(seconds: float | None) -> str:
    """``seconds`` with the precision a person needs; ``-`` for none."""
    if seconds is None or math.isnan(seconds):
        return "-"
    if math.isinf(seconds):
        return "∞"
    if seconds < 0:
        return "-" + duration_text(-seconds)
    ms = seconds * 1000
    if ms < 10:
        return f"{ms:.2g} ms" if ms >= 0.01 or ms == 0 else "<0.01 ms"
    if round(ms) < 1000:
        return f"{round(ms)} ms"
    if round(seconds, 1) < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(whole // 60, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def duration_ms_text(ms: float | None) -> str:
    """A duration stored in milliseconds, as ``duration_text`` shows it."""
    return "-" if ms is None else duration_text(ms / 1000)
