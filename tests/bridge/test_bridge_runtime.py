"""The runtime performs the broker link's effects, against a real protocol peer and the
in-memory Session network (the decisions themselves: ``test_brokerlink.py``)."""

from __future__ import annotations

import asyncio

from tests.bridge.test_bridge_protocol import harness, peer  # noqa: F401 - fixtures


async def test_a_cursor_write_that_raises_does_not_stop_later_writes(peer, harness) -> None:  # noqa: F811
    bridge = harness.start(peer)
    save, broken = bridge.store.cursor_save, {"once": True}

    def raising_once(*args, **kwargs):
        if broken.pop("once", False):
            raise RuntimeError("a bug below the store")
        return save(*args, **kwargs)

    bridge.store.cursor_save = raising_once
    first = harness.say("one")
    assert await peer.wait(lambda: first in peer.accepted)
    await asyncio.sleep(0.3)
    assert not broken  # the write was tried, and raised
    second = harness.say("two")
    assert await peer.wait(lambda: second in peer.accepted)
    assert await peer.wait(lambda: bridge.store.cursor == second, timeout=5)
