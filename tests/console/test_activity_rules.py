"""The pure arithmetic of the dashboard: slots, buckets and percentiles from buckets."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from broker.activityrules import (
    BUCKETS,
    Events,
    Tally,
    bucket_of,
    bucket_quantile,
    events_tally,
    hours_between,
    slot_index,
)
from broker.statusrules import DURATION_BUCKETS

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)


def counts(**at: int) -> list[int]:
    """Bucket counts by bound: counts(b1=3) puts 3 in the bucket ending at 1 s; inf for the last."""
    found = [0] * BUCKETS
    for name, n in at.items():
        bound = math.inf if name == "inf" else float(name[1:].replace("_", "."))
        found[len(DURATION_BUCKETS) if bound == math.inf else DURATION_BUCKETS.index(bound)] = n
    return found


@pytest.mark.parametrize(
    ("seconds", "bucket"),
    [(0.0, 0), (0.005, 0), (0.0051, 1), (1.0, 7), (1.01, 8), (30.0, 11), (30.5, 12), (1e9, 12)],
)
def test_a_latency_falls_in_the_first_bucket_whose_bound_holds_it(seconds, bucket) -> None:
    assert bucket_of(seconds) == bucket


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        (0.5, counts(), None),  # nothing measured
        (0.5, counts(b1_0=4), 0.5 + 0.5 * 2 / 4),  # all in (0.5, 1]: linear inside it
        (0.95, counts(b1_0=100), 0.5 + 0.5 * 95 / 100),
        (0.5, counts(b0_005=10), 0.0025),  # the first bucket starts at 0
        (0.5, counts(b0_1=50, b2_5=50), 0.1),  # the rank ends the first bucket exactly
        (0.95, counts(b0_1=50, b2_5=50), 1.0 + 1.5 * 45 / 50),
        (0.95, counts(b0_1=90, inf=10), math.inf),  # above the last bound: no estimate but "more"
        (0.5, counts(b0_1=90, inf=10), 0.05 + 0.05 * 50 / 90),
        (1.0, counts(b5_0=1), 5.0),
    ],
)
def test_percentiles_are_estimated_from_buckets_as_prometheus_does(q, buckets, expected) -> None:
    found = bucket_quantile(q, buckets)
    assert found == pytest.approx(expected) if expected is not None else found is None


@pytest.mark.parametrize(
    ("moment", "slot"),
    [(T0 - timedelta(seconds=1), None), (T0, 0), (T0 + 5 * H - timedelta(microseconds=1), 4), (T0 + 6 * H, None)],
)
def test_a_moment_falls_in_its_slot_or_none(moment, slot) -> None:
    assert slot_index(moment, start=T0, width=H, slots=6) == slot


def test_events_are_counted_per_bot_plugin_and_slot_with_faults_and_latency() -> None:
    events = Events(
        received=[
            (1, "echo", T0 + timedelta(minutes=1), T0 + timedelta(minutes=1, seconds=0.3)),
            (1, "echo", T0 + timedelta(minutes=2), None),  # not answered yet: no latency
            (1, "", T0 + timedelta(minutes=3), None),  # ignored message
            (2, "echo", T0 + H + timedelta(minutes=1), T0 + H + timedelta(minutes=1, seconds=3)),
            (2, "echo", T0 - timedelta(minutes=1), None),  # before the slots
        ],
        sent=[(1, "echo", T0 + timedelta(minutes=1, seconds=0.3)), (2, "echo", T0 + 3 * H)],
        queued=[
            (1, "echo", T0 + timedelta(minutes=1), "ok"),
            (1, "echo", T0 + timedelta(minutes=2), "running"),
            (2, "echo", T0 + H, "crashed"),
            (2, "echo", T0 + H, "error"),  # the plugin's own message to the user: finished, no fault
        ],
    )
    found = events_tally(events, start=T0, width=H, slots=2)
    assert set(found) == {((1, "echo"), 0), ((1, ""), 0), ((2, "echo"), 1)}
    a, none, b = found[((1, "echo"), 0)], found[((1, ""), 0)], found[((2, "echo"), 1)]
    assert (a.messages_in, a.messages_out, a.invocations, a.finished, a.faults) == (2, 1, 2, 1, 0)
    assert a.latency == counts(b0_5=1)
    assert (none.messages_in, none.invocations, sum(none.latency)) == (1, 0, 0)
    assert (b.messages_in, b.messages_out, b.invocations, b.finished, b.faults) == (1, 0, 2, 2, 1)
    assert b.error_ratio == 0.5
    assert b.latency == counts(b5_0=1)


def test_tallies_add_up_counts_and_histograms() -> None:
    one = Tally(1, 2, 3, 3, 1, counts(b0_1=1))
    one.add(Tally(1, 0, 1, 1, 0, counts(b0_1=2, inf=1)))
    assert (one.messages_in, one.messages_out, one.invocations, one.finished, one.faults) == (2, 2, 4, 4, 1)
    assert one.latency == counts(b0_1=3, inf=1)
    assert Tally().error_ratio == 0.0
    assert Tally().quantile(0.5) is None


def test_hours_between_starts_at_the_whole_hour() -> None:
    assert hours_between(T0 + timedelta(minutes=30), T0 + 2 * H) == [T0, T0 + H]
    assert hours_between(T0, T0) == []
