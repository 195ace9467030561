"""Durations read as people read them, with the precision that matters."""

from __future__ import annotations

import math

import pytest

from sessionbot.durations import duration_ms_text, duration_text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (math.nan, "-"),
        (math.inf, "∞"),
        (0, "0 ms"),
        (0.000004, "<0.01 ms"),
        (0.00004, "0.04 ms"),
        (0.0042, "4.2 ms"),
        (0.009, "9 ms"),
        (0.00996, "10 ms"),
        (0.0123, "12 ms"),
        (0.5714279996027471, "571 ms"),
        (0.9996, "1.0 s"),
        (1.26, "1.3 s"),
        (9.96, "10 s"),
        (42.4, "42 s"),
        (59.6, "1 min"),
        (75, "1 min 15 s"),
        (3599.7, "1 h"),
        (7500, "2 h 5 min"),
        (-0.0042, "-4.2 ms"),
    ],
)
def test_it_shows_a_duration_with_sensible_precision(seconds: float | None, text: str) -> None:
    assert duration_text(seconds) == text


@pytest.mark.parametrize(
    ("ms", "text"), [(None, "-"), (571.4279996027471, "571 ms"), (4.2, "4.2 ms"), (75_000, "1 min 15 s")]
)
def test_it_reads_a_duration_stored_in_milliseconds(ms: float | None, text: str) -> None:
    assert duration_ms_text(ms) == text
