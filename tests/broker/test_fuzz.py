"""Random JSON and bytes never crash the consumer and never lose an accepted message."""

from __future__ import annotations

import json
import uuid

from asgiref.sync import async_to_sync
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker.models import InboundMessage
from tests.broker.conftest import USER, communicator, message, receive, say_hello

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
field_values = json_values | st.just(USER) | st.sampled_from(["private", "group", "/ping", "hello"])
frame_dicts = st.fixed_dictionaries(
    {"type": st.sampled_from(["hello", "message", "sent", "failed", "status", "ack", "send", "nope"])},
    optional={
        k: field_values
        for k in ["id", "from", "conversation", "conversation_type", "timestamp", "text", "protocol", "bot_id", "ref"]
    },
)
junk = st.one_of(
    st.binary(min_size=1, max_size=200).map(lambda b: ("bytes", b)),
    st.text(min_size=1, max_size=200).map(lambda t: ("text", t)),
    json_values.map(lambda v: ("text", json.dumps(v))),
    frame_dicts.map(lambda d: ("text", json.dumps(d))),
)


async def exchange(frames: list[tuple[str, object]]) -> set[str]:
    comm = communicator()
    await say_hello(comm)
    accepted: set[str] = set()
    for kind, payload in frames:
        if kind == "bytes":
            await comm.send_to(bytes_data=payload)
        else:
            await comm.send_to(text_data=payload)
        barrier = f"barrier-{uuid.uuid4()}"
        await comm.send_json_to(message("still alive", mid=barrier))
        while True:
            frame = await receive(comm)
            assert frame["type"] in {"error", "ack", "send", "welcome"}, frame
            if frame["type"] == "ack" and frame["status"] == "accepted":
                accepted.add(frame["id"])
            if frame.get("id") == barrier:
                assert frame["status"] == "accepted"
                break
    await comm.disconnect()
    return accepted


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.lists(junk, min_size=1, max_size=8))
def test_random_frames_never_crash_the_consumer_or_lose_a_message(transactional_db, frames) -> None:
    accepted = async_to_sync(exchange)(frames)
    stored = set(InboundMessage.objects.filter(message_id__in=accepted).values_list("message_id", flat=True))
    assert stored == accepted
