from __future__ import annotations

from tests.broker.conftest import message, receive


async def test_a_message_is_acked_after_hello(bridge, builtins) -> None:
    await bridge.send_json_to(message("hello there", mid="m1"))
    assert await receive(bridge) == {"type": "ack", "id": "m1", "status": "accepted"}
