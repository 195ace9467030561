"""``SendLedger``: which sends a bridge connection pushes, and where its polls start."""

from __future__ import annotations

from broker.sendledger import SendLedger


def test_a_send_is_pushed_once_whether_a_ring_or_a_poll_sees_it_first() -> None:
    ledger = SendLedger()
    assert ledger.take_rung("r1")
    assert not ledger.take_polled("r1")
    assert ledger.take_polled("r2")
    assert not ledger.take_rung("r2")
    assert ledger.inflight == {"r1", "r2"}


def test_a_late_ring_does_not_push_an_answered_send_but_a_poll_of_a_pending_one_does() -> None:
    ledger = SendLedger()
    assert ledger.take_polled("r1")
    ledger.settle("r1")
    assert ledger.inflight == set()
    assert not ledger.take_rung("r1")  # the ring was slower than the bridge's answer
    assert ledger.take_polled("r1")  # still pending in the outbox: its confirm was lost


def test_a_retry_is_asked_for_by_ref_until_it_is_pushed_again() -> None:
    ledger = SendLedger()
    ledger.take_rung("r1")
    ledger.settle("r1")
    ledger.retry_later("r1")
    assert ledger.retry_refs == {"r1"}
    assert ledger.take_polled("r1")
    assert ledger.retry_refs == set()


def test_a_retry_answered_before_it_was_pushed_again_is_no_longer_asked_for() -> None:
    ledger = SendLedger()
    ledger.take_rung("r1")
    ledger.settle("r1")
    ledger.retry_later("r1")
    ledger.settle("r1")  # "sent" after all (a ring pushed it meanwhile, or another connection)
    assert ledger.retry_refs == set()


def test_it_remembers_the_latest_answers_only() -> None:
    ledger = SendLedger(settled_kept=2)
    for ref in ("a", "b", "c"):
        ledger.settle(ref)
    assert [ledger.settled(ref) for ref in ("a", "b", "c")] == [False, True, True]
    ledger.settle("b")  # answered again: kept as the latest
    ledger.settle("d")
    assert [ledger.settled(ref) for ref in ("b", "c", "d")] == [True, False, True]


def test_a_poll_starts_from_the_highest_id_seen_a_lag_ago() -> None:
    ledger = SendLedger(lag_seconds=1.0)
    assert ledger.lagging_id(0.0) == 0
    ledger.seen(10)
    assert ledger.lagging_id(0.5) == 0  # 10 was seen less than a second ago
    ledger.seen(7)  # an older id seen later changes nothing
    ledger.seen(20)
    assert ledger.lagging_id(1.2) == 0  # at 0.2 the highest id known was still 0
    assert ledger.lagging_id(1.6) == 10  # as the poll at 0.5 knew it
    assert ledger.lagging_id(2.5) == 20


def test_a_new_hello_pushes_everything_again_from_the_first_id() -> None:
    ledger = SendLedger()
    ledger.take_rung("r1")
    ledger.seen(30)
    ledger.lagging_id(0.0)
    ledger.restart()
    assert ledger.inflight == set()
    assert ledger.lagging_id(5.0) == 0
    assert ledger.take_polled("r1")


def test_a_send_whose_confirm_is_being_stored_is_not_polled_again_until_it_is() -> None:
    ledger = SendLedger()
    ledger.take_rung("r1")
    ledger.sent("r1")
    assert ledger.inflight == set()
    assert ledger.skip_refs() == {"r1"}  # the outbox still says pending
    assert not ledger.take_polled("r1")
    ledger.confirms_stored(["r1"])
    assert ledger.skip_refs() == set()
    assert ledger.take_polled("r1")  # stored as sent, a poll no longer finds it; if not, a resend
