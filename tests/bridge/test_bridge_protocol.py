"""The bridge against a real protocol peer and an in-memory Session network with real crypto."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from pathlib import Path

import pytest
from session_python import Session

from bridge.account import SessionAccount
from bridge.messages import Incoming
from bridge.network import GuardedNetwork
from bridge.receiver import PollTiming
from bridge.runtime import Bridge, BridgeSettings
from sessiontestnet.local import LocalNetwork, MemoryNetwork
from tests.bridge.peer import ProtocolPeer

TOKEN = "test-token-123"
BOT_WORDS = Session.generate_mnemonic()
FAST = PollTiming(active_seconds=0.05, idle_seconds=0.2, active_window_seconds=5)


class Harness:
    def __init__(self, tmp_path: Path) -> None:
        self.net = LocalNetwork()
        self.state = tmp_path / "bridge-state"
        self.user = SessionAccount(mnemonic=Session.generate_mnemonic(), network=MemoryNetwork(self.net))
        self.user_cursor = ""
        self.bridge: Bridge | None = None
        self.task: asyncio.Task[None] | None = None

    def start(self, peer: ProtocolPeer, token: str = TOKEN) -> Bridge:
        cfg = BridgeSettings(
            broker_url=peer.url, token=token, mnemonic=BOT_WORDS, state_dir=self.state, timing=FAST, status_interval=0.3
        )
        self.bridge = Bridge(cfg, network=GuardedNetwork(MemoryNetwork(self.net)))
        self.task = asyncio.create_task(self.bridge.run())
        return self.bridge

    async def stop(self) -> None:
        """Stop the bridge the hard way: nothing is flushed beyond what it already wrote."""
        assert self.bridge is not None
        assert self.task is not None
        self.bridge.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    def say(self, text: str, **kw) -> str:
        return self.user.send(to=self.bot_id, text=text, **kw).hash

    @property
    def bot_id(self) -> str:
        return SessionAccount(mnemonic=BOT_WORDS, network=MemoryNetwork(self.net)).session_id

    def replies(self) -> list[Incoming]:
        page = self.user.retrieve(last_hash="")
        return [m for m in page.messages if isinstance(m, Incoming) and m.sender == self.bot_id and m.kind == "data"]


@pytest.fixture
async def peer():
    p = await ProtocolPeer(token=TOKEN).start()
    yield p
    await p.stop()


@pytest.fixture
async def harness(tmp_path):
    h = Harness(tmp_path)
    yield h
    if h.task is not None and not h.task.done():
        await h.stop()


async def test_it_says_hello_with_the_bots_session_id_and_reports_status(peer, harness):
    bridge = harness.start(peer)
    assert await peer.wait(lambda: len(peer.statuses) >= 2)
    assert peer.hellos[0].bot_id == bridge.bot_id == harness.bot_id
    assert peer.hellos[0].protocol == 1
    status = peer.statuses[-1].model_dump()
    assert status["polling"] is True
    assert status["session_reachable"] is True
    assert "last_poll_ms" in status


async def test_a_user_message_reaches_the_broker_and_the_reply_reaches_the_user_once(peer, harness):
    harness.start(peer)
    msg_id = harness.say("/ping")
    assert await peer.wait(lambda: peer.messages)
    (msg,) = peer.messages
    assert (msg.id, msg.sender, msg.conversation, msg.text) == (msg_id, harness.user.session_id, msg.sender, "/ping")
    await peer.send(ref="r1", to=harness.user.session_id, text="pong")
    assert await peer.wait(lambda: peer.sent)
    await peer.send(ref="r1", to=harness.user.session_id, text="pong")  # a resend of the same ref
    assert await peer.wait(lambda: len(peer.sent) == 2)
    assert peer.sent[0].hash == peer.sent[1].hash
    await asyncio.sleep(0.5)  # the bot's own sync copy has been polled by now
    assert [r.text for r in harness.replies()] == ["pong"]
    assert len(peer.messages) == 1  # the sync copy was not forwarded


async def test_an_unacked_message_comes_again_after_a_crash_and_an_acked_one_never(peer, harness):
    peer.auto_ack = False
    harness.start(peer)
    first = harness.say("before the crash")
    assert await peer.wait(lambda: peer.messages)
    await harness.stop()  # crash between poll and ack
    peer.auto_ack = True
    harness.start(peer)
    assert await peer.wait(lambda: len(peer.messages) == 2)
    assert [m.id for m in peer.messages] == [first, first]
    assert await peer.wait(lambda: first in peer.accepted)
    await asyncio.sleep(0.3)
    await harness.stop()
    harness.start(peer)
    second = harness.say("after the restart")
    assert await peer.wait(lambda: any(m.id == second for m in peer.messages))
    assert [m.id for m in peer.messages] == [first, first, second]


async def test_a_message_the_broker_could_not_store_is_sent_again_on_the_same_link(peer, harness):
    # A broker whose database or Redis is down answers `error` (internal) with the message id
    # and keeps the link open: the bridge must send the message again, not wait for a reconnect.
    peer.auto_ack = False
    harness.start(peer)
    msg_id = harness.say("while the broker's database was down")
    assert await peer.wait(lambda: peer.messages)
    await peer.error(msg_id)
    assert await peer.wait(lambda: len(peer.messages) == 2)
    await peer.error(msg_id)  # still down: again, after a longer wait
    assert await peer.wait(lambda: len(peer.messages) == 3)
    await peer.ack(msg_id)
    other = harness.say("a frame the broker calls bad")
    assert await peer.wait(lambda: len(peer.messages) == 4)
    await peer.error(other, code="bad_frame")  # not a storage failure: not resent on this link
    await asyncio.sleep(2.5)  # the first resend comes within a second
    assert [m.id for m in peer.messages] == [msg_id] * 3 + [other]
    assert len(peer.hellos) == 1


async def test_files_travel_both_ways(peer, harness):
    from bridge.account import OutFile

    harness.start(peer)
    photo = bytes(range(256)) * 4096
    harness.say("look", files=[OutFile("cat.jpg", "image/jpeg", photo)])
    assert await peer.wait(lambda: peer.messages)
    att = peer.messages[0].attachments[0]
    assert (att.name, att.content_type, att.size) == ("cat.jpg", "image/jpeg", len(photo))
    assert base64.b64decode(att.data_b64) == photo
    back = {"name": "r.txt", "content_type": "text/plain", "size": 5, "data_b64": base64.b64encode(b"hello").decode()}
    await peer.send(ref="f1", to=harness.user.session_id, text="here", attachments=[back])
    assert await peer.wait(lambda: peer.sent)
    (reply,) = harness.replies()
    assert harness.user.download(reply.attachments[0]) == b"hello"


async def test_a_send_to_a_bad_address_fails_for_good_and_an_outage_fails_with_retry(peer, harness):
    harness.start(peer)
    await peer.send(ref="bad", to="05nothex", text="x")
    assert await peer.wait(lambda: peer.failed)
    assert peer.failed[0].retry is False
    harness.net.faults.store_failures = 1000
    await peer.send(ref="later", to=harness.user.session_id, text="eventually")
    assert await peer.wait(lambda: len(peer.failed) == 2)
    assert peer.failed[1].retry is True
    harness.net.faults.store_failures = 0
    await peer.drop()  # the broker resends pending sends after the reconnect
    assert await peer.wait(lambda: peer.sent)
    assert [r.text for r in harness.replies()] == ["eventually"]


async def test_a_dropped_broker_link_loses_nothing_and_sends_nothing_twice(peer, harness):
    harness.start(peer)
    assert await peer.wait(lambda: peer.hellos)
    for i in range(3):
        await peer.send(ref=f"p{i}", to=harness.user.session_id, text=f"part {i}")
    await peer.drop()
    harness.say("while reconnecting")
    assert await peer.wait(lambda: not peer.pending and len(peer.hellos) >= 2 and peer.accepted)
    assert [r.text for r in harness.replies()] == ["part 0", "part 1", "part 2"]


async def test_without_the_session_network_it_says_so_once_and_recovers(peer, harness, caplog):
    caplog.set_level(logging.WARNING, logger="bridge.receiver")
    harness.net.faults.unreachable = True
    harness.start(peer)
    assert await peer.wait(lambda: any(s.model_dump().get("session_reachable") is False for s in peer.statuses))
    await asyncio.sleep(2.5)  # several failed polls
    harness.net.faults.unreachable = False
    msg_id = harness.say("are you there?")
    assert await peer.wait(lambda: any(m.id == msg_id for m in peer.messages), timeout=90)
    unreachable = [r for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert len(unreachable) == 1
    assert "not" not in BOT_WORDS or all(BOT_WORDS not in r.getMessage() for r in caplog.records)


async def test_a_wrong_token_is_retried_with_backoff_without_crashing(peer, harness):
    harness.start(peer, token="wrong")
    assert await peer.wait(lambda: peer.refused >= 2)
    assert not harness.task.done()
    assert peer.hellos == []


async def test_the_user_sees_the_bot_typing_once_their_message_is_accepted(peer, harness):
    harness.start(peer)
    harness.say("/slow")
    assert await peer.wait(lambda: peer.messages)

    def typing_seen() -> bool:
        page = harness.user.retrieve(last_hash="")
        return any(isinstance(m, Incoming) and m.sender == harness.bot_id and m.kind == "typing" for m in page.messages)

    assert await peer.wait(typing_seen)
    assert harness.replies() == []  # an indicator, not a reply


async def test_refused_as_a_second_bridge_it_logs_an_error_naming_the_bot_and_waits_a_minute(peer, harness, caplog):
    caplog.set_level(logging.WARNING, logger="bridge")
    peer.conflicts = 1
    harness.start(peer)
    assert await peer.wait(lambda: len(peer.hellos) == 1)
    # The normal backoff would try again within half a second.
    assert not await peer.wait(lambda: len(peer.hellos) > 1, timeout=3.0)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        f"the broker refused this bridge of bot {harness.bot_id}: another bridge of the bot is connected "
        "(close code 4409); run one bridge per bot. Trying again in 60 s"
    ]
    assert not [r for r in caplog.records if "broker connection lost" in r.getMessage()]
    assert not harness.task.done()


async def test_the_hello_names_the_bridge_the_same_across_restarts_and_apart_from_another(peer, harness, tmp_path):
    harness.start(peer)
    assert await peer.wait(lambda: len(peer.hellos) == 1)
    await harness.stop()
    harness.start(peer)
    assert await peer.wait(lambda: len(peer.hellos) == 2)
    first, again = (hello.instance for hello in peer.hellos)
    assert first == again == (harness.state / "instance").read_text().strip()
    assert first is not None
    assert len(first) == 32
    await harness.stop()
    other = Harness(tmp_path / "elsewhere")
    other.start(peer)
    try:
        assert await peer.wait(lambda: len(peer.hellos) == 3)
    finally:
        await other.stop()
    assert peer.hellos[2].instance not in (None, first)


@pytest.mark.timeout(60)
async def test_a_bridge_stopped_between_its_hello_and_the_welcome_stops(peer, harness):
    for hellos in (1, 2, 3):
        harness.start(peer)
        assert await peer.wait(lambda: len(peer.hellos) == hellos)  # noqa: B023 - read at once
        await harness.stop()  # the stop lands as the welcome does: it used to hang here
