"""The rules of ``/readyz`` as tables: facts in, verdict out."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from sessionbot.readyrules import (
    Check,
    bridge_live,
    bridges_check,
    failure_check,
    heartbeat_check,
    readiness_verdict,
)

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("oks", "status", "ready"),
    [
        ([], 200, True),
        ([True], 200, True),
        ([True, True, True], 200, True),
        ([True, False], 503, False),
        ([False], 503, False),
    ],
)
def test_ready_only_when_every_check_passed(oks, status, ready) -> None:
    checks = [Check(f"c{i}", ok, "d") for i, ok in enumerate(oks)]
    got_status, body = readiness_verdict(checks)
    assert (got_status, body["ready"]) == (status, ready)
    assert body["checks"] == {f"c{i}": {"ok": ok, "detail": "d"} for i, ok in enumerate(oks)}


@pytest.mark.parametrize(
    ("age", "ok", "detail"),
    [
        (None, False, "no heartbeat in the last 30 s"),
        (math.inf, False, "no heartbeat in the last 30 s"),
        (0.0, True, "last heartbeat 0 s ago"),
        (-2.0, True, "last heartbeat 0 s ago"),  # clocks of two machines a little apart
        (12.4, True, "last heartbeat 12 s ago"),
        (30.0, True, "last heartbeat 30 s ago"),
        (30.5, False, "last heartbeat 30 s ago (stale after 30 s)"),
        (600.0, False, "last heartbeat 600 s ago (stale after 30 s)"),
    ],
)
def test_a_worker_heartbeat_is_stale_after_30_seconds(age, ok, detail) -> None:
    assert heartbeat_check(name="worker", age_seconds=age) == Check("worker", ok, detail)


@pytest.mark.parametrize(
    ("connected", "lease_until", "live"),
    [
        (True, NOW + timedelta(seconds=20), True),
        (True, NOW, False),  # the lease ran out this instant
        (True, NOW - timedelta(seconds=5), False),  # its broker process died without saying so
        (True, None, False),
        (False, NOW + timedelta(seconds=20), False),
        (False, None, False),
    ],
)
def test_a_bridge_counts_while_connected_with_a_live_lease(connected, lease_until, live) -> None:
    assert bridge_live(connected=connected, lease_until=lease_until, now=NOW) is live


@pytest.mark.parametrize(
    ("enabled", "live", "ok", "detail"),
    [
        (0, 0, True, "no enabled bot"),
        (1, 1, True, "1 of 1 enabled bots connected"),
        (3, 3, True, "3 of 3 enabled bots connected"),
        (1, 0, False, "0 of 1 enabled bots connected"),
        (3, 2, False, "2 of 3 enabled bots connected"),
    ],
)
def test_every_enabled_bot_needs_its_bridge(enabled, live, ok, detail) -> None:
    assert bridges_check(enabled=enabled, live=live) == Check("bridges", ok, detail)


def test_a_check_that_raised_names_the_error_class_and_not_its_message() -> None:
    error = ConnectionError("redis://:hunter2@db.internal:6379 refused")
    check = failure_check("channel_layer", error)
    assert check == Check("channel_layer", False, "failed: ConnectionError")
    assert "hunter2" not in check.detail
