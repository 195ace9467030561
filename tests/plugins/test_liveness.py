"""When an unfinished invocation counts as lost: the table the sweep and the claim share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from plugins.liveness import Thresholds, invocation_lost, running_abandoned

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
T = Thresholds(queued_after_seconds=60, running_margin_seconds=30)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("status", "queued_at", "started_at", "timeout", "lost"),
    [
        ("queued", ago(10), None, 10, False),  # waiting its turn
        ("queued", ago(60), None, 10, False),  # exactly at the threshold
        ("queued", ago(61), None, 10, True),  # no worker took it: its task was lost
        ("running", ago(100), ago(5), 10, False),  # its worker runs it now
        ("running", ago(100), ago(40), 10, False),  # timeout 10 + margin 30: not yet
        ("running", ago(100), ago(41), 10, True),  # past the limit: the worker died
        ("running", ago(500), ago(300), 600, False),  # a slow plugin with a long limit
        ("running", ago(1), None, 10, True),  # running without a start: nobody has it
        ("ok", ago(9999), ago(9999), 10, False),  # finished work is never sent again
        ("crashed", ago(9999), ago(9999), 10, False),
    ],
)
def test_invocation_lost(status, queued_at, started_at, timeout, lost) -> None:
    assert (
        invocation_lost(
            status=status, queued_at=queued_at, started_at=started_at, now=NOW, timeout_seconds=timeout, thresholds=T
        )
        is lost
    )


def test_a_margin_of_zero_gives_up_right_after_the_timeout() -> None:
    strict = Thresholds(queued_after_seconds=60, running_margin_seconds=0)
    assert not running_abandoned(started_at=ago(10), now=NOW, timeout_seconds=10, thresholds=strict)
    assert running_abandoned(started_at=ago(10.5), now=NOW, timeout_seconds=10, thresholds=strict)
