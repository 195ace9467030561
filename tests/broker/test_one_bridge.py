"""One live bridge connection per bot, through the real application and a real server.

A second bridge of a bot is refused with 4409 while the first keeps its sends; a bridge
that reconnects while its old connection is half-open takes over, and the old connection
is closed at its next lease renewal; a hello without ``instance`` keeps working. The cases
on real servers are played by ``one_bridge_refused`` and ``half_open_taken_over``, here on
one ``runbroker`` and in ``test_scale_out`` on two (PostgreSQL and Redis).
"""

from __future__ import annotations

import itertools
import json

import pytest
from channels.testing import WebsocketCommunicator
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from broker import connection
from broker.bridgelease import LEASE_RENEW_SECONDS
from broker.connection import CONFLICT_REFUSED, CONFLICT_SUPERSEDED
from broker.models import BridgeStatus, OutboundMessage
from tests.broker.conftest import BOT, USER, communicator, receive, receive_until, say_hello
from tests.broker.servers import bridge_connect, frame_recv, hello, runbroker
from tests.thebot import athe_bot, the_bot

REFUSED = {"type": "error", "code": "bridge_conflict", "detail": CONFLICT_REFUSED}
SUPERSEDED = {"type": "error", "code": "bridge_conflict", "detail": CONFLICT_SUPERSEDED}
_refs = itertools.count(1)


@pytest.fixture
def fast_renewal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Renew leases every 0.2 s in this process, so a superseded connection learns it at once."""
    monkeypatch.setattr(connection, "LEASE_RENEW_SECONDS", 0.2)


async def refused(comm: WebsocketCommunicator, **extra: str) -> None:
    """Say hello on ``comm`` and expect the refusal: the error, then the close with 4409."""
    connected, _ = await comm.connect(timeout=20)
    assert connected
    await comm.send_json_to({"type": "hello", "protocol": 1, "bot_id": BOT, "client": "tests/2", **extra})
    assert await receive(comm) == REFUSED
    assert await comm.receive_output(timeout=20) == {"type": "websocket.close", "code": 4409}


async def pending_send() -> str:
    ref = f"lease-{next(_refs)}"
    await OutboundMessage.objects.acreate(bot=await athe_bot(), ref=ref, to=USER, text="hello")
    return ref


async def test_a_second_bridge_is_refused_with_4409_and_the_first_keeps_its_sends(transactional_db) -> None:
    first = communicator()
    await say_hello(first, instance="bridge-a")
    await refused(communicator(), instance="bridge-b")
    ref = await pending_send()
    assert (await receive_until(first, "send"))["ref"] == ref
    status = await BridgeStatus.objects.aget(bot_id=BOT)
    assert (status.instance, status.epoch, status.connected) == ("bridge-a", 1, True)
    await first.disconnect()


async def test_a_bridge_without_instance_works_alone_and_is_refused_beside_a_live_one(transactional_db) -> None:
    legacy = communicator()
    await say_hello(legacy)
    ref = await pending_send()
    assert (await receive_until(legacy, "send"))["ref"] == ref
    await refused(communicator())  # another bridge that names itself no more than the first
    await refused(communicator(), instance="bridge-b")
    await legacy.disconnect()  # its close lets the lease go: the next bridge need not wait
    after = communicator()
    await say_hello(after)
    assert (await BridgeStatus.objects.aget(bot_id=BOT)).epoch == 2
    await after.disconnect()


async def test_the_same_bridge_takes_over_its_half_open_connection_which_is_closed(
    transactional_db, fast_renewal
) -> None:
    old, new = communicator(), communicator()
    await say_hello(old, instance="bridge-a")
    await say_hello(new, instance="bridge-a")  # the old one is silent, its socket still open
    assert await receive_until(old, "error") == SUPERSEDED
    assert await old.receive_output(timeout=20) == {"type": "websocket.close", "code": 4409}
    await old.disconnect()  # its late close must leave the new connection's record alone
    status = await BridgeStatus.objects.aget(bot_id=BOT)
    assert (status.connected, status.epoch, status.lease_until is not None) == (True, 2, True)
    ref = await pending_send()
    assert (await receive_until(new, "send"))["ref"] == ref
    await new.disconnect()
    assert not (await BridgeStatus.objects.aget(bot_id=BOT)).connected


async def test_a_second_hello_on_the_holding_connection_is_not_refused(transactional_db) -> None:
    comm = communicator()
    await say_hello(comm)
    await comm.send_json_to({"type": "hello", "protocol": 1, "bot_id": BOT, "client": "tests/1"})
    assert await receive_until(comm, "welcome") == {"type": "welcome", "protocol": 1}
    await comm.disconnect()


# --- on real servers: played here on one runbroker, in test_scale_out on two --------------


def sends_until_closed(ws: ClientConnection) -> tuple[list[dict[str, object]], int | None]:
    """The frames ``ws`` gets until the broker closes it, and the close code."""
    frames = []
    while True:
        try:
            frames.append(frame_recv(ws, timeout=3 * LEASE_RENEW_SECONDS))
        except ConnectionClosed as closed:
            return frames, closed.rcvd.code if closed.rcvd else None


def send_received(ws: ClientConnection, ref: str) -> None:
    """Wait for the send of ``ref`` on ``ws`` and confirm it, as a bridge does."""
    while (frame := frame_recv(ws))["type"] != "send" or frame["ref"] != ref:
        pass
    ws.send(json.dumps({"type": "sent", "ref": ref, "hash": f"hash-{ref}", "timestamp": 1}))


def one_bridge_refused(port_a: int, port_b: int) -> None:
    """A bridge on ``port_a`` holds the bot; a second on ``port_b`` (and a legacy one) is refused."""
    with bridge_connect(port_a) as first:
        hello(first, BOT, instance="bridge-a")
        for extra in ({"instance": "bridge-b"}, {}):
            with bridge_connect(port_b) as second:
                second.send(json.dumps({"type": "hello", "protocol": 1, "bot_id": BOT, "client": "x", **extra}))
                assert sends_until_closed(second) == ([REFUSED], 4409)
        ref = f"lease-{next(_refs)}"
        OutboundMessage.objects.create(bot=the_bot(), ref=ref, to=USER, text="hello")
        send_received(first, ref)
        assert BridgeStatus.objects.get(bot_id=BOT).instance == "bridge-a"


def half_open_taken_over(port_a: int, port_b: int) -> None:
    """The bridge on ``port_a`` reconnects on ``port_b`` while its old connection stays open and
    silent: the new one takes over and gets the sends; the old one is closed with 4409."""
    with bridge_connect(port_a) as old, bridge_connect(port_b) as new:
        hello(old, BOT, instance="bridge-a")
        taken = BridgeStatus.objects.get(bot_id=BOT).epoch
        hello(new, BOT, instance="bridge-a")
        ref = f"lease-{next(_refs)}"
        OutboundMessage.objects.create(bot=the_bot(), ref=ref, to=USER, text="hello")
        send_received(new, ref)
        frames, code = sends_until_closed(old)
        assert code == 4409
        assert frames[-1] == SUPERSEDED
        status = BridgeStatus.objects.get(bot_id=BOT)
        assert (status.connected, status.epoch) == (True, taken + 1), "the old close left the new record alone"
        later = f"lease-{next(_refs)}"
        OutboundMessage.objects.create(bot=the_bot(), ref=later, to=USER, text="again")
        send_received(new, later)


@pytest.mark.slow
def test_on_a_real_server_a_second_bridge_is_refused_and_a_half_open_one_taken_over(transactional_db) -> None:
    with runbroker("--no-worker") as (port, _):
        one_bridge_refused(port, port)
        half_open_taken_over(port, port)
