"""Idle polls of many bridges share one read of which bots have something pending."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from broker import pending
from broker.outbox import outbox_enqueue_answer
from tests.broker.conftest import USER, communicator, receive, say_hello
from tests.thebot import athe_bot

pytestmark = pytest.mark.django_db(transaction=True)


async def test_one_read_answers_every_connection_that_asks_within_its_freshness() -> None:
    reads: list[int] = []

    def read() -> set[int]:
        reads.append(1)
        return {7}

    bots = pending.BotsWith(read, fresh_seconds=0.3)
    found = await asyncio.gather(*(bots.has(bot) for bot in (7, 8, 7, 9)))
    assert found == [True, False, True, False]
    assert len(reads) == 1
    await asyncio.sleep(0.35)
    assert await bots.has(7)
    assert len(reads) == 2


async def test_the_reads_name_the_bots_with_pending_sends_and_unfinished_commands() -> None:
    bot = await athe_bot()
    assert bot.pk not in await sync_to_async(pending._bots_with_pending_sends)()
    await sync_to_async(outbox_enqueue_answer)(bot=bot.pk, message_id="m-1", to=USER, text="hi")
    assert await sync_to_async(pending._bots_with_pending_sends)() == {bot.pk}
    assert await sync_to_async(pending._bots_at_work)() == set()


async def test_an_idle_bridge_still_gets_a_send_committed_while_it_idles() -> None:
    comm = communicator()
    await say_hello(comm)
    await asyncio.sleep(pending.FRESH_SECONDS + 1.0)  # idle polls, each answered from the shared read
    [row] = await sync_to_async(outbox_enqueue_answer)(bot=(await athe_bot()).pk, message_id="m-2", to=USER, text="x")
    # Within the idle poll interval (1 s) and the shared read's freshness.
    send = await receive(comm, timeout=1.0 + pending.FRESH_SECONDS + 1.0)
    assert send["ref"] == row.ref
    await comm.disconnect()
