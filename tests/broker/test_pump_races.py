"""The send pump's safety-net poll racing the accept and the confirms (found by review).

The consumer's database calls queue on shared threads, so a poll can wait its turn while a
batch commits, or while confirms are being stored. Neither may change what the bridge sees:
an answer never comes before its message's ack, and a confirmed send is not pushed again.
"""

from __future__ import annotations

import asyncio
import threading
import time

from asgiref.sync import sync_to_async

from broker import consumers, outbox
from broker.outbox import outbox_enqueue_answer
from tests.broker.conftest import BOT, USER, message, receive


async def test_an_answer_read_by_a_poll_that_waited_its_turn_still_follows_its_ack(bridge, monkeypatch) -> None:
    due, accept = outbox.outbox_due, consumers.inbound_accept_many
    poll_waiting = threading.Event()
    hold_next_poll = threading.Event()

    def slow_poll(**kwargs):
        if hold_next_poll.is_set():
            hold_next_poll.clear()
            poll_waiting.set()
            time.sleep(0.3)  # its thread busy (a confirm waiting for SQLite's writer lock, say)
        return due(**kwargs)

    def accept_then_publish_slowly(**kwargs):
        results = accept(**kwargs)  # committed: the hint to /help is in the outbox now
        time.sleep(0.6)  # the work after the commit (sending tasks) before the acks can go
        return results

    monkeypatch.setattr(outbox, "outbox_due", slow_poll)
    monkeypatch.setattr(consumers, "inbound_accept_many", accept_then_publish_slowly)
    hold_next_poll.set()
    while not poll_waiting.is_set():
        await asyncio.sleep(0.01)
    await bridge.send_json_to(message("/nosuch", mid="m-race"))
    frames = [await receive(bridge), await receive(bridge)]
    assert [frame["type"] for frame in frames] == ["ack", "send"]


@sync_to_async
def answers(*texts: str) -> list[str]:
    return [outbox_enqueue_answer(message_id=f"m-{text}", to=USER, text=text)[0].ref for text in texts]


async def test_a_send_confirmed_while_its_confirm_is_being_stored_is_not_pushed_again(bridge, monkeypatch) -> None:
    confirm = outbox.outbox_confirm_many

    def slow_confirm(**kwargs):
        time.sleep(0.3)  # a slow commit
        return confirm(**kwargs)

    monkeypatch.setattr(outbox, "outbox_confirm_many", slow_confirm)
    one, two = await answers("one", "two")
    assert [(await receive(bridge))["ref"], (await receive(bridge))["ref"]] == [one, two]
    await bridge.send_json_to({"type": "sent", "ref": one, "hash": "H1", "timestamp": 1})
    await bridge.send_json_to({"type": "sent", "ref": two, "hash": "H2", "timestamp": 2})
    again = []
    while not await bridge.receive_nothing(timeout=1.5):
        again.append(await receive(bridge))
    assert again == []


async def test_the_poll_after_a_hello_that_fails_is_made_again_with_the_sends_in_backoff(bridge, monkeypatch) -> None:
    one, two = await answers("one", "two")
    assert {(await receive(bridge))["ref"], (await receive(bridge))["ref"]} == {one, two}
    await bridge.send_json_to({"type": "failed", "ref": one, "reason": "offline", "retry": True})  # 2 s backoff
    await bridge.send_json_to({"type": "failed", "ref": two, "reason": "offline", "retry": True})
    due = outbox.outbox_due
    calls: list[bool] = []

    def first_poll_fails(**kwargs):
        calls.append(kwargs["due_only"])
        if len(calls) == 1:
            raise ConnectionError("database restarting")
        return due(**kwargs)

    monkeypatch.setattr(outbox, "outbox_due", first_poll_fails)
    await bridge.send_json_to({"type": "hello", "protocol": 1, "bot_id": BOT, "client": "tests/1"})
    assert (await receive(bridge))["type"] == "welcome"
    for _ in range(300):
        if len(calls) >= 2:
            break
        await asyncio.sleep(0.01)
    assert calls[:2] == [False, False]  # the poll after the failed one still asks for every pending send
    assert {(await receive(bridge))["ref"], (await receive(bridge))["ref"]} == {one, two}
