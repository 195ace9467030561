"""Every row and rule of the bridge protocol, driven through the real ASGI application."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from django.conf import settings

from bridgeprotocol.frames import MAX_FRAME_BYTES
from broker.models import BridgeStatus, InboundMessage, OutboundMessage
from plugins.models import Invocation
from tests.broker.conftest import BOT, GROUP, USER, communicator, message, receive, receive_until, say_hello


async def test_a_bridge_without_a_token_is_refused_before_any_frame(transactional_db) -> None:
    comm = communicator(token="")
    connected, code = await comm.connect(timeout=20)
    assert not connected
    assert code == 4401


async def test_a_bridge_with_a_wrong_token_is_refused(transactional_db) -> None:
    comm = communicator(token=settings.BRIDGE_TOKEN + "x")
    connected, code = await comm.connect(timeout=20)
    assert (connected, code) == (False, 4401)


async def test_hello_gets_welcome_and_the_bridge_is_recorded_connected(bridge) -> None:
    status = await BridgeStatus.objects.aget(bot_id=BOT)
    assert status.connected
    assert status.client == "tests/1"


async def test_the_late_close_of_an_old_connection_leaves_the_reconnected_bridge_connected(
    transactional_db, caplog: pytest.LogCaptureFixture
) -> None:
    old, new = communicator(), communicator()
    await say_hello(old, instance="bridge-1")
    assert "another connection" not in caplog.text
    await say_hello(new, instance="bridge-1")  # it reconnected before the broker saw its old connection close
    assert "said hello while another connection of it was open" in caplog.text
    await old.disconnect()
    assert (await BridgeStatus.objects.aget(bot_id=BOT)).connected, "health checks would report it down"
    await new.disconnect()
    assert not (await BridgeStatus.objects.aget(bot_id=BOT)).connected


async def test_hello_with_another_protocol_version_gets_bad_frame(transactional_db) -> None:
    comm = communicator()
    await comm.connect(timeout=20)
    await comm.send_json_to({"type": "hello", "protocol": 2, "bot_id": BOT, "client": "x"})
    frame = await receive(comm)
    assert frame["type"] == "error"
    assert frame["code"] == "bad_frame"
    assert "protocol 2" in frame["detail"]
    await comm.disconnect()


async def test_a_message_before_hello_gets_no_hello_and_is_not_stored(transactional_db) -> None:
    comm = communicator()
    await comm.connect(timeout=20)
    await comm.send_json_to(message("/ping", mid="early"))
    assert await receive(comm) == {
        "type": "error",
        "code": "no_hello",
        "detail": "say hello before sending messages",
        "id": "early",
    }
    assert not await InboundMessage.objects.filter(message_id="early").aexists()
    await comm.disconnect()


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[1, 2, 3]",
        '{"no_type": 1}',
        '{"type": 7}',
        '{"type": "teleport"}',
        '{"type": "message", "id": 5}',
        '{"type": "hello", "protocol": "1", "bot_id": "x"}',
        '{"type": "sent", "ref": "r"}',
        '{"type": "failed", "ref": "r", "reason": "x", "retry": "yes"}',
        '{"type": "ack", "id": "x", "status": "accepted"}',
    ],
)
async def test_a_bad_frame_gets_bad_frame_and_the_connection_lives_on(bridge, raw) -> None:
    await bridge.send_to(text_data=raw)
    frame = await receive(bridge)
    assert frame["type"] == "error"
    assert frame["code"] == "bad_frame"
    assert frame["detail"]
    await bridge.send_json_to(message("still here", mid="after-bad"))
    assert (await receive(bridge))["status"] == "accepted"


async def test_a_binary_frame_gets_bad_frame(bridge) -> None:
    await bridge.send_to(bytes_data=b'{"type": "hello"}')
    assert (await receive(bridge))["code"] == "bad_frame"


async def test_unknown_extra_fields_are_ignored(bridge) -> None:
    await bridge.send_json_to(message("hi", mid="extra", flavour="vanilla"))
    assert (await receive(bridge))["status"] == "accepted"


async def test_an_accepted_message_is_stored_before_its_ack(bridge) -> None:
    await bridge.send_json_to(message("hello", mid="stored", author_name="Ana"))
    assert await receive(bridge) == {"type": "ack", "id": "stored", "status": "accepted"}
    stored = await InboundMessage.objects.aget(message_id="stored")
    assert (stored.sender, stored.text, stored.author_name) == (USER, "hello", "Ana")


async def test_the_same_id_again_is_a_duplicate_and_triggers_nothing(bridge, builtins) -> None:
    await bridge.send_json_to(message("/nosuch", mid="dup"))
    assert (await receive_until(bridge, "ack"))["status"] == "accepted"
    hint = await receive_until(bridge, "send")
    await bridge.send_json_to(message("/nosuch", mid="dup"))
    assert await receive_until(bridge, "ack") == {"type": "ack", "id": "dup", "status": "duplicate"}
    assert await bridge.receive_nothing(timeout=0.5)
    assert await OutboundMessage.objects.acount() == 1
    assert await InboundMessage.objects.acount() == 1
    assert hint["ref"] == (await OutboundMessage.objects.aget()).ref


@pytest.mark.parametrize(
    ("change", "reason_part"),
    [
        ({"from": "05abc"}, "from is not a Session ID"),
        ({"conversation": "nope"}, "not a Session ID"),
        ({"conversation_type": "group"}, "not a group ID"),
        ({"text": "x" * 10_001}, "longer than 10,000"),
        ({"text": "bell\x07"}, "control characters"),
        ({"timestamp": -1}, "negative"),
        ({"attachments": [{"name": "a", "content_type": "text/plain", "size": 3, "data_b64": "!!!"}]}, "base64"),
        ({"attachments": [{"name": "a", "content_type": "x/y", "size": 10_000_001, "data_b64": ""}]}, "larger"),
        ({"attachments": [{"name": "a", "content_type": "x/y", "size": 0, "data_b64": ""}] * 11}, "too many"),
    ],
)
async def test_an_invalid_message_is_rejected_with_a_plain_reason(bridge, change, reason_part) -> None:
    frame = message("hi", mid="bad")
    frame.update(change)
    await bridge.send_json_to(frame)
    ack = await receive(bridge)
    assert (ack["type"], ack["id"], ack["status"]) == ("ack", "bad", "rejected")
    assert reason_part in ack["reason"]
    assert not await InboundMessage.objects.filter(message_id="bad").aexists()


async def test_a_group_message_with_an_attachment_is_accepted_and_its_file_kept(bridge) -> None:
    data = base64.b64encode(b"hello file").decode()
    att = {"name": "a.txt", "content_type": "text/plain", "size": 10, "data_b64": data}
    frame = message("look", mid="with-file", conversation=GROUP, conversation_type="group", attachments=[att])
    await bridge.send_json_to(frame)
    assert (await receive(bridge))["status"] == "accepted"
    stored = await InboundMessage.objects.aget(message_id="with-file")
    assert stored.attachments[0]["size"] == 10
    assert Path(stored.attachments[0]["path"]).read_bytes() == b"hello file"


async def test_a_frame_over_16_mib_closes_the_connection_with_1009(bridge) -> None:
    await bridge.send_to(text_data='{"type":"status","pad":"' + "x" * MAX_FRAME_BYTES + '"}')
    assert await bridge.receive_output(timeout=20) == {"type": "websocket.close", "code": 1009}


async def test_status_is_kept_for_health_checks(bridge) -> None:
    await bridge.send_json_to({"type": "status", "polling": True, "last_poll_ms": 12, "errors": 0})
    await bridge.send_json_to(message("sync", mid="after-status"))
    await receive(bridge)
    status = await BridgeStatus.objects.aget(bot_id=BOT)
    assert status.status == {"polling": True, "last_poll_ms": 12, "errors": 0}


async def test_the_bots_own_sync_copy_is_acked_and_ignored(bridge, builtins) -> None:
    await bridge.send_json_to(message("/ping", sender=BOT, mid="sync-copy", conversation=USER))
    assert (await receive(bridge))["status"] == "accepted"
    assert await bridge.receive_nothing(timeout=0.5)
    assert (await InboundMessage.objects.aget(message_id="sync-copy")).status == "ignored"
    assert not await Invocation.objects.aexists()
