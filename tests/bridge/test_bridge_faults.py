"""The bridge keeps going when one message, one file or one send goes wrong.

Against a real protocol peer and the in-memory Session network with real crypto. Each of
these once stopped the bridge's receiving or sending for good, or made it repeat work.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time

import pytest

from bridge import receiver
from bridge.account import OutFile
from bridge.backoff import Backoff
from bridge.inbox import Fetched, Inbox
from bridge.receiver import MAX_DOWNLOAD_ROUNDS
from bridge.store import MAX_REFS, BridgeStore
from bridgeprotocol.frames import AttachmentFrame
from sessiontestnet.storage import RpcError
from tests.bridge.test_bridge_parts import msg
from tests.bridge.test_bridge_protocol import harness, peer  # noqa: F401 - fixtures

FILE = OutFile("x.bin", "application/octet-stream", b"x" * 100)


async def test_a_message_whose_file_is_gone_comes_without_it_and_later_messages_follow(peer, harness) -> None:  # noqa: F811
    first = harness.say("look", files=[FILE])
    harness.net.files._files.clear()  # the file server answers 404: expired, or never uploaded
    bridge = harness.start(peer)
    later = harness.say("and a plain message after it")
    assert await peer.wait(lambda: {first, later} <= set(peer.accepted), timeout=10)
    assert [(m.id, m.attachments) for m in peer.messages] == [(first, None), (later, None)]
    assert bridge.receiver is not None
    assert bridge.receiver.health.reachable  # a missing file is not an outage
    assert bridge.receiver.health.errors["attachment"] == 1


async def test_a_file_server_that_keeps_failing_holds_a_message_back_only_for_a_while(
    peer,  # noqa: F811
    harness,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = harness.say("look", files=[FILE])
    later = harness.say("and a plain message after it")
    tries: list[int] = []

    def failing(file_id: int) -> bytes:
        tries.append(file_id)
        raise RpcError(503, "file server overloaded")

    monkeypatch.setattr(harness.net.files, "download", failing)
    # The rounds, without their minutes of backoff.
    monkeypatch.setattr(receiver, "Backoff", lambda base, cap: Backoff(base=0.01, cap=0.01))
    harness.start(peer)
    assert await peer.wait(lambda: {first, later} <= set(peer.accepted), timeout=10)
    assert len(tries) == MAX_DOWNLOAD_ROUNDS  # each round tried again, then the message went on
    assert [(m.id, m.attachments) for m in peer.messages] == [(first, None), (later, None)]


async def test_one_send_that_fails_unexpectedly_fails_alone_and_the_next_goes_out(peer, harness) -> None:  # noqa: F811
    bridge = harness.start(peer)
    assert await peer.wait(lambda: peer.hellos)
    keep = bridge.store.prepared_put
    broken = {"once": True}

    def full_disk_once(ref, prepared):
        if broken.pop("once", False):
            raise OSError(28, "No space left on device")
        return keep(ref, prepared)

    bridge.store.prepared_put = full_disk_once
    await peer.send(ref="r1", to=harness.user.session_id, text="one")
    assert await peer.wait(lambda: peer.failed)
    assert (peer.failed[0].ref, peer.failed[0].retry) == ("r1", True)  # the broker sends it again later
    await peer.send(ref="r2", to=harness.user.session_id, text="two")
    assert await peer.wait(lambda: [s.ref for s in peer.sent] == ["r2"])
    assert [r.text for r in harness.replies()] == ["two"]


async def test_a_mailbox_answered_again_in_full_does_not_fetch_its_files_again(peer, harness) -> None:  # noqa: F811
    downloads: list[int] = []
    download = harness.net.files.download

    def counted(file_id: int) -> bytes:
        downloads.append(file_id)
        return download(file_id)

    harness.net.files.download = counted
    bridge = harness.start(peer)
    first = harness.say("photo", files=[OutFile("p.jpg", "image/jpeg", b"p" * 50_000)])
    assert await peer.wait(lambda: first in peer.accepted)
    assert len(downloads) == 1
    # The poller starts over from the beginning of the mailbox, as it does when its cursor's
    # message has expired (a typing indicator lives 20 s).
    assert bridge.receiver is not None
    bridge.receiver.fetch_cursor = ""
    bridge.receiver.touch()
    later = harness.say("and a new one")
    assert await peer.wait(lambda: later in peer.accepted)
    assert len(downloads) == 1
    assert [m.id for m in peer.messages] == [first, later]


async def test_a_message_the_broker_refuses_as_a_bad_frame_lets_the_cursor_move_on(peer, harness) -> None:  # noqa: F811
    peer.auto_ack = False
    bridge = harness.start(peer)
    refused = harness.say("one")
    assert await peer.wait(lambda: peer.messages)
    await peer.error(refused, code="bad_frame")
    later = harness.say("two")
    assert await peer.wait(lambda: len(peer.messages) == 2)
    await peer.ack(later)
    await asyncio.sleep(0.3)
    assert bridge.inbox.cursor == later  # not held at the refused message for good
    assert bridge.store.cursor == later
    assert len(bridge.inbox) == 0


def test_sent_refs_are_trimmed_while_the_bridge_runs(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bridge.store.os.fsync", lambda fd: None)
    store = BridgeStore(tmp_path)
    for i in range(2 * MAX_REFS + 10):
        store.sent_put(f"ref-{i}", "H", i)
    assert len(store._refs) <= MAX_REFS + 10
    assert store.sent_get(f"ref-{2 * MAX_REFS + 9}") == ("H", 2 * MAX_REFS + 9)  # the latest are kept
    assert store.sent_get("ref-0") is None
    lines = (tmp_path / "sent-refs.log").read_text().splitlines()
    assert len(lines) == len(store._refs)
    assert BridgeStore(tmp_path)._refs == dict(list(store._refs.items())[-MAX_REFS:])  # a restart: the latest


def test_the_inbox_remembers_what_it_has_seen_for_the_poller() -> None:
    inbox = Inbox(cursor="c0", settled=("old",))
    assert inbox.add(Fetched("h1", msg("h1")))
    assert inbox.known("h1")
    assert inbox.known("old")
    assert not inbox.known("h2")
    assert inbox.settle("h1")
    assert inbox.known("h1")  # settled now
    assert inbox.cursor == "h1"


async def test_a_send_the_broker_repeats_while_it_is_queued_is_sent_once(peer, harness) -> None:  # noqa: F811
    bridge = harness.start(peer)
    assert await peer.wait(lambda: peer.hellos)
    deliver, delivered = bridge.send_account.deliver, []

    def slow_deliver(prepared):
        delivered.append(prepared)
        time.sleep(0.3)  # the Session network is slow: the broker's hellos resend meanwhile
        return deliver(prepared)

    bridge.send_account.deliver = slow_deliver
    for _ in range(3):  # a flapping link: each hello resends every pending send
        await peer.send(ref="r1", to=harness.user.session_id, text="once")
    assert await peer.wait(lambda: peer.sent)
    await asyncio.sleep(0.5)
    assert len(delivered) == 1
    assert [s.ref for s in peer.sent] == ["r1"]
    assert [r.text for r in harness.replies()] == ["once"]


async def test_the_cursor_is_saved_off_the_event_loop(peer, harness) -> None:  # noqa: F811
    bridge = harness.start(peer)
    save, threads = bridge.store.cursor_save, []

    def spy(*args, **kwargs):
        threads.append(threading.current_thread() is threading.main_thread())
        return save(*args, **kwargs)

    bridge.store.cursor_save = spy
    sent = harness.say("hi")
    assert await peer.wait(lambda: sent in peer.accepted)
    await asyncio.sleep(0.3)
    assert threads
    assert not any(threads)  # an fsync per ack never holds up the broker link
    assert bridge.store.cursor == sent


def test_the_inbox_counts_the_bytes_waiting_for_an_ack() -> None:
    inbox = Inbox(cursor="")
    data = base64.b64encode(b"x" * 3000).decode()
    with_file = msg("f").model_copy(
        update={"attachments": (AttachmentFrame(name="a", content_type="x/y", size=3000, data_b64=data),)}
    )
    inbox.add(Fetched("f", with_file))
    inbox.add(Fetched("t", msg("t")))
    assert inbox.waiting_bytes == len(data) + 2 * len("hi")
    inbox.settle("f")
    inbox.settle("t")
    assert inbox.waiting_bytes == 0
