"""Pending sends reach the bridge, survive reconnects with the same ref, and retry."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from broker.models import OutboundMessage
from broker.outbox import outbox_confirm_many, outbox_due, outbox_enqueue_answer
from tests.broker.conftest import USER, communicator, receive, receive_until, say_hello
from tests.roundtrips import queries_sent
from tests.thebot import the_bot


@sync_to_async
def answers(*texts: str) -> list[str]:
    return [outbox_enqueue_answer(bot=the_bot().pk, message_id=f"m-{t}", to=USER, text=t)[0].ref for t in texts]


async def test_a_send_stored_while_connected_reaches_the_bridge(bridge) -> None:
    (ref,) = await answers("hello")
    send = await receive(bridge)
    assert send == {"type": "send", "ref": ref, "to": USER, "text": "hello"}


async def test_a_reconnecting_bridge_gets_every_pending_send_again_oldest_first(transactional_db) -> None:
    refs = await answers("one", "two", "three")
    first = communicator()
    await say_hello(first)
    got = [await receive(first) for _ in refs]
    assert [s["ref"] for s in got] == refs
    await first.send_json_to({"type": "sent", "ref": refs[0], "hash": "H1", "timestamp": 5})
    await first.send_json_to({"type": "status"})  # a frame whose handling we can wait on
    await first.disconnect()
    row = await OutboundMessage.objects.aget(ref=refs[0])
    assert (row.status, row.session_hash, row.session_timestamp) == ("sent", "H1", 5)

    second = communicator()
    await say_hello(second)
    again = [await receive(second) for _ in refs[1:]]
    assert [(s["ref"], s["text"]) for s in again] == [(refs[1], "two"), (refs[2], "three")]
    assert await second.receive_nothing(timeout=0.5)
    await second.disconnect()


async def test_failed_without_retry_is_final(bridge) -> None:
    (ref,) = await answers("doomed")
    await receive_until(bridge, "send")
    await bridge.send_json_to({"type": "failed", "ref": ref, "reason": "recipient unknown", "retry": False})
    assert await bridge.receive_nothing(timeout=0.5)
    row = await OutboundMessage.objects.aget(ref=ref)
    assert (row.status, row.last_error) == ("failed", "recipient unknown")
    await bridge.disconnect()
    again = communicator()
    await say_hello(again)
    assert await again.receive_nothing(timeout=1)
    await again.disconnect()


async def test_failed_with_retry_is_sent_again_later_with_the_same_ref(bridge) -> None:
    (ref,) = await answers("try again")
    await receive_until(bridge, "send")
    await bridge.send_json_to({"type": "failed", "ref": ref, "reason": "network down", "retry": True})
    resent = await receive(bridge, timeout=30)
    assert (resent["type"], resent["ref"], resent["text"]) == ("send", ref, "try again")
    row = await OutboundMessage.objects.aget(ref=ref)
    assert (row.status, row.attempts) == ("pending", 1)


@sync_to_async
def pending_row(pk: int, text: str) -> None:
    OutboundMessage.objects.create(bot=the_bot(), pk=pk, ref=f"out-of-order-{pk}", to=USER, text=text)


async def test_a_send_committed_after_one_with_a_higher_id_goes_out_without_waiting_for_the_full_scan(
    bridge,
) -> None:
    # Two workers: the reply with id 1001 commits first and is pushed; the one with id 1000
    # commits just after. The pump must not skip it until its next full scan (every 5 s).
    await pending_row(1001, "second")
    assert (await receive_until(bridge, "send"))["text"] == "second"
    await pending_row(1000, "first")
    late = await receive(bridge, timeout=3)
    assert (late["type"], late["text"]) == ("send", "first")


@pytest.mark.django_db
def test_a_poll_loads_only_the_sends_not_pushed_yet_and_counts_them_all() -> None:
    refs = [
        outbox_enqueue_answer(bot=the_bot().pk, message_id=f"m-poll-{i}", to=USER, text=f"t{i}")[0].ref
        for i in range(3)
    ]
    last = OutboundMessage.objects.order_by("id").last()
    due = outbox_due(bot=the_bot().pk, skip_refs=frozenset(refs[:2]), limit=3)
    assert [row.ref for row in due.rows] == [refs[2]]  # the two pushed ones are not loaded
    assert last is not None
    assert due.high_id == last.id
    assert due.more  # the limit counts the rows it skipped
    assert not outbox_due(bot=the_bot().pk, after_id=due.high_id).rows


@pytest.mark.django_db(transaction=True)
def test_confirms_are_stored_together_with_the_hash_and_time_the_bridge_reported() -> None:
    refs = [
        outbox_enqueue_answer(bot=the_bot().pk, message_id=f"m-confirm-{i}", to=USER, text=f"t{i}")[0].ref
        for i in range(3)
    ]
    with queries_sent() as sent:
        outbox_confirm_many(confirms=[(refs[0], "H0", 10), (refs[2], "H2", 2**63)])  # too big for the column
    rows = {row.ref: row for row in OutboundMessage.objects.all()}
    assert [rows[ref].status for ref in refs] == ["sent", "pending", "sent"]
    assert (rows[refs[0]].session_hash, rows[refs[0]].session_timestamp) == ("H0", 10)
    assert (rows[refs[2]].session_hash, rows[refs[2]].session_timestamp) == ("H2", None)
    assert rows[refs[0]].sent_at is not None
    if connection.vendor == "postgresql":  # one round trip: BEGIN, both updates, COMMIT
        assert [query.autocommit for query in sent] == [True]
        assert sent[0].sql.startswith("BEGIN; SET LOCAL synchronous_commit TO OFF; UPDATE")
