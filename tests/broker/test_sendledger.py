"""``SendLedger``: which sends a bridge connection pushes, and where its polls start."""

from __future__ import annotations

from typing import Any

import pytest

from broker.sendledger import ANSWERS_KEPT, LAG_SECONDS, SendLedger

# Steps: ("begin", read) a read of the outbox begins; ("take", read, ref, pushed) the read
# found ``ref`` pending, and the ledger says whether to push it; ("answer", ref) the bridge
# answered; ("stored", ref) the answer is in the database; ("hello",) a new hello;
# ("retry", ref) the bridge asked for a retry.
INTERLEAVINGS: dict[str, list[tuple[Any, ...]]] = {
    "a send found by two reads is pushed once": [
        ("begin", "ring"),
        ("begin", "poll"),
        ("take", "ring", "r1", True),
        ("take", "poll", "r1", False),
        ("take", "poll", "r2", True),
        ("take", "ring", "r2", False),
    ],
    "a read that found a send before it was pushed, answered and stored does not push it": [
        ("begin", "poll"),  # reads r1 pending, then waits its turn
        ("begin", "ring"),
        ("take", "ring", "r1", True),
        ("answer", "r1"),
        ("stored", "r1"),
        ("take", "poll", "r1", False),  # its read is older than the answer
    ],
    "a read that found a send answered while the read ran does not push it": [
        ("begin", "ring"),
        ("take", "ring", "r1", True),
        ("begin", "poll"),
        ("answer", "r1"),
        ("stored", "r1"),
        ("take", "poll", "r1", False),
    ],
    "a read begun while the answer was being stored does not push it, though it returns after": [
        ("begin", "ring"),
        ("take", "ring", "r1", True),
        ("answer", "r1"),
        ("begin", "poll"),  # its snapshot may be older than the confirm's commit
        ("stored", "r1"),
        ("take", "poll", "r1", False),
    ],
    "a send whose answer is being stored is not pushed by any read": [
        ("begin", "one"),
        ("take", "one", "r1", True),
        ("answer", "r1"),
        ("begin", "two"),
        ("take", "two", "r1", False),
        ("stored", "r1"),
        ("begin", "three"),
        ("take", "three", "r1", True),  # still pending after its answer was stored: a resend
    ],
    "a read begun after the answer was stored pushes a send still pending": [
        ("begin", "one"),
        ("take", "one", "r1", True),
        ("answer", "r1"),
        ("stored", "r1"),
        ("begin", "two"),
        ("take", "two", "r1", True),
        ("take", "two", "r1", False),
    ],
    "other answers after a read began do not stop it pushing its sends": [
        ("begin", "one"),
        ("take", "one", "r1", True),
        ("begin", "two"),
        ("answer", "r1"),
        ("stored", "r1"),
        ("take", "two", "r2", True),
    ],
    "a new hello pushes every pending send again": [
        ("begin", "one"),
        ("take", "one", "r1", True),
        ("hello",),
        ("begin", "two"),
        ("take", "two", "r1", True),
    ],
    "a send answered after a read began is not pushed by it, even after a new hello": [
        ("begin", "one"),
        ("begin", "two"),
        ("take", "two", "r1", True),
        ("answer", "r1"),
        ("stored", "r1"),
        ("hello",),
        ("take", "one", "r1", False),
        ("begin", "three"),
        ("take", "three", "r1", True),
    ],
}


@pytest.mark.parametrize("steps", INTERLEAVINGS.values(), ids=INTERLEAVINGS.keys())
def test_each_send_is_pushed_once_until_it_is_answered_or_the_connection_is_new(steps) -> None:
    ledger = SendLedger()
    reads: dict[str, int] = {}
    for step in steps:
        match step:
            case ("begin", read):
                reads[read] = ledger.read_begin()
            case ("take", read, ref, pushed):
                assert ledger.take(ref, reads[read]) is pushed, step
            case ("answer", ref):
                ledger.answered(ref)
            case ("stored", ref):
                ledger.answers_stored([ref])
            case ("hello",):
                ledger.restart()


def test_pushed_sends_are_in_flight_until_answered() -> None:
    ledger = SendLedger()
    read = ledger.read_begin()
    assert ledger.take("r1", read)
    assert ledger.take("r2", read)
    assert ledger.inflight == {"r1", "r2"}
    ledger.answered("r1")
    assert ledger.inflight == {"r2"}


def test_a_retry_is_asked_for_by_ref_until_it_is_pushed_again() -> None:
    ledger = SendLedger()
    ledger.take("r1", ledger.read_begin())
    ledger.answered("r1")
    ledger.answers_stored(["r1"])
    ledger.retry_later("r1")
    assert ledger.retry_refs == {"r1"}
    assert ledger.take("r1", ledger.read_begin())
    assert ledger.retry_refs == set()


def test_a_retry_answered_before_it_was_pushed_again_is_no_longer_asked_for() -> None:
    ledger = SendLedger()
    ledger.take("r1", ledger.read_begin())
    ledger.answered("r1")
    ledger.retry_later("r1")
    ledger.answered("r1")  # "sent" after all (another connection pushed it meanwhile)
    assert ledger.retry_refs == set()


def test_it_remembers_the_latest_answers_only() -> None:
    ledger = SendLedger(answers_kept=2)
    read = ledger.read_begin()
    for ref in ("a", "b", "c"):
        ledger.answered(ref)
    ledger.answers_stored(["a", "b", "c"])
    assert [ledger.take(ref, read) for ref in ("a", "b", "c")] == [True, False, False]  # "a" forgotten
    read = ledger.read_begin()
    ledger.answered("b")  # answered again: kept as the latest
    ledger.answered("d")
    ledger.answers_stored(["b", "d"])
    assert [ledger.take(ref, read) for ref in ("c", "b", "d")] == [True, False, False]


def test_it_keeps_ten_thousand_answers_by_default() -> None:
    assert ANSWERS_KEPT == 10_000
    ledger = SendLedger()
    read = ledger.read_begin()
    for i in range(ANSWERS_KEPT + 1):
        ledger.answered(f"r{i}")
    ledger.answers_stored([f"r{i}" for i in range(ANSWERS_KEPT + 1)])
    assert ledger.take("r0", read)
    assert not ledger.take("r1", read)


def test_skip_refs_are_the_sends_pushed_or_whose_answer_is_being_stored() -> None:
    ledger = SendLedger()
    read = ledger.read_begin()
    ledger.take("r1", read)
    ledger.take("r2", read)
    ledger.answered("r1")
    assert ledger.skip_refs() == {"r1", "r2"}  # the outbox still says pending for both
    ledger.answers_stored(["r1"])
    assert ledger.skip_refs() == {"r2"}
    ledger.answered("r2")
    ledger.answers_stored(["r2"])
    assert ledger.skip_refs() == frozenset()


def test_a_poll_starts_from_the_highest_id_seen_a_lag_ago() -> None:
    assert LAG_SECONDS == 1.0
    ledger = SendLedger()
    assert ledger.high_id == 0
    assert ledger.lagging_id(0.0) == 0
    ledger.seen(10)
    assert ledger.high_id == 10
    assert ledger.lagging_id(0.5) == 0  # 10 was seen less than a second ago
    ledger.seen(7)  # an older id seen later changes nothing
    assert ledger.high_id == 10
    ledger.seen(20)
    assert ledger.lagging_id(1.2) == 0  # at 0.2 the highest id known was still 0
    assert ledger.lagging_id(1.5) == 10  # exactly a lag after the poll at 0.5
    assert ledger.lagging_id(2.5) == 20


def test_the_lag_can_be_set() -> None:
    ledger = SendLedger(lag_seconds=0.25)
    ledger.lagging_id(0.0)
    ledger.seen(5)
    ledger.lagging_id(0.1)
    assert ledger.lagging_id(0.3) == 0
    assert ledger.lagging_id(0.4) == 5


def test_a_new_hello_starts_the_poll_from_the_first_id() -> None:
    ledger = SendLedger()
    ledger.take("r1", ledger.read_begin())
    ledger.seen(30)
    ledger.lagging_id(0.0)
    ledger.restart()
    assert ledger.inflight == set()
    assert ledger.high_id == 0
    assert ledger.lagging_id(5.0) == 0


def test_without_a_lag_a_poll_starts_from_the_highest_id_seen() -> None:
    ledger = SendLedger(lag_seconds=0.0)
    ledger.lagging_id(0.0)
    ledger.seen(5)
    assert ledger.lagging_id(0.1) == 5
