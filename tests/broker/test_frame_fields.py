"""Every string field of every frame a bridge sends, given lone surrogates, NUL, other
controls, line separators and very long values, through the real consumer.

Each case sends a good message, the frame with the bad field, another good message and a
last one: every frame gets exactly one answer of the kind the protocol gives for it, the
good messages are stored, and every answer can be written as UTF-8 (a real server sends
bytes). The expected answers come from this file's own statement of the rules.
"""

from __future__ import annotations

import json
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridgeprotocol.frames import AttachmentFrame, Failed, Hello, Message, ReplyTo, Sent, frame_text
from broker import accept
from broker.models import BridgeStatus, InboundMessage
from tests.broker.conftest import BOT, USER, communicator, message, say_hello

STATUS_KEY = "<a field name>"


@dataclass(frozen=True)
class Field:
    frame: str
    path: tuple[str | int, ...]
    kind: str  # "id": visible characters on one line; "name": any text on one line; "text": lines too
    max_len: int | None = None  # longer is refused
    fixed: bool = False  # a format (a Session ID, base64): anything added to it breaks it

    @property
    def wire(self) -> str:
        """The field as a reason names it: ``attachments[0].name``."""
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else f".{part}"
        return out.removeprefix(".")

    def __str__(self) -> str:
        return f"{self.frame}.{self.wire}"


FIELDS = [
    Field("hello", ("bot_id",), "id", fixed=True),
    Field("hello", ("client",), "name"),
    Field("message", ("id",), "id", max_len=128),
    Field("message", ("from",), "id", fixed=True),
    Field("message", ("conversation",), "id", fixed=True),
    Field("message", ("text",), "text", max_len=10_000),
    Field("message", ("author_name",), "name", max_len=100),
    Field("message", ("attachments", 0, "name"), "name", max_len=255),
    Field("message", ("attachments", 0, "content_type"), "name", max_len=200),
    Field("message", ("attachments", 0, "data_b64"), "id", fixed=True),
    Field("message", ("reply_to", "id"), "id", max_len=128),
    Field("message", ("reply_to", "author"), "id", fixed=True),
    Field("sent", ("ref",), "id"),
    Field("sent", ("hash",), "id"),
    Field("failed", ("ref",), "id"),
    Field("failed", ("reason",), "text"),
    Field("status", ("note",), "text"),
    Field("status", ("errors", "poll"), "text"),
    Field("status", ("recent", 1), "text"),
    Field("status", (STATUS_KEY,), "name"),
]


def good_frame(frame_type: str) -> dict[str, Any]:
    if frame_type == "hello":
        return {"type": "hello", "protocol": 1, "bot_id": BOT, "client": "tests/2"}
    if frame_type == "message":
        attachment = {"name": "a.txt", "content_type": "text/plain", "size": 3, "data_b64": "YWJj"}
        reply_to = {"id": "quoted-hash", "author": USER, "timestamp": 1}
        return message("hi", mid=f"m-{uuid.uuid4()}", author_name="Ana", attachments=[attachment], reply_to=reply_to)
    if frame_type == "sent":
        return {"type": "sent", "ref": "no-such-ref", "hash": "h", "timestamp": 1}
    if frame_type == "failed":
        return {"type": "failed", "ref": "no-such-ref", "reason": "unreachable", "retry": True}
    return {"type": "status", "polling": True, "note": "fine", "errors": {"poll": "none"}, "recent": ["ok", "ok"]}


def with_value(field: Field, value: str) -> dict[str, Any]:
    frame = good_frame(field.frame)
    if field.path == (STATUS_KEY,):
        frame[value] = 1
        return frame
    *parents, last = field.path
    node: Any = frame
    for part in parents:
        node = node[part]
    node[last] = (node[last] + value) if field.fixed else value
    return frame


def allowed(field: Field, value: str) -> bool:
    """The rules of the protocol document, stated again for the test."""
    if field.fixed:
        return False
    for char in value:
        category = unicodedata.category(char)
        if category == "Cs" or (category == "Cc" and not (field.kind == "text" and char in "\t\n\r")):
            return False
        if category in ("Zl", "Zp") and field.kind != "text":
            return False
        if category == "Cf" and field.kind == "id":
            return False
    return field.max_len is None or len(value) <= field.max_len


safe = st.text("abcXYZ019-_./", max_size=6)
bad_chars = st.one_of(
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),  # lone surrogates
    st.just("\x00"),
    st.characters(max_codepoint=0x1F),  # C0, tab and newlines among them
    st.characters(min_codepoint=0x7F, max_codepoint=0x9F),  # DEL and C1
    st.sampled_from("\u2028\u2029\u200b\ufeff\u202e"),
)
long_values = st.sampled_from([129, 201, 256, 10_001, 100_000]).map(lambda n: "a" * n)
values = st.one_of(st.builds(lambda a, c, b: a + c + b, safe, bad_chars, safe), long_values)


def encodable(text: str) -> str:
    text.encode("utf-8")  # what a real server does before it sends: this must never fail
    return text


async def exchange(field: Field, value: str) -> tuple[set[str], set[str]]:
    """Send the case; return the message ids that must be stored and those that must not."""
    frame = with_value(field, value)
    ok = allowed(field, value)
    first, second, last = (message(f"good {n}", mid=f"g-{uuid.uuid4()}") for n in range(3))
    comm = communicator()
    await say_hello(comm)
    for sent in (first, frame, second, last):
        await comm.send_to(text_data=json.dumps(sent))  # escapes a lone surrogate as \ud800, as JSON must
    waiting = {first["id"], second["id"], last["id"]}
    if field.frame == "message":
        waiting.add(frame["id"])
    answers: list[dict[str, Any]] = []
    while waiting:
        answer = json.loads(encodable(await comm.receive_from(timeout=20)))
        answers.append(answer)
        waiting.discard(answer.get("id"))
    assert await comm.receive_nothing(timeout=0.05)
    await comm.disconnect()

    assert not [a for a in answers if a.get("code") == "internal"], answers
    for good in (first, second, last):
        assert [a for a in answers if a.get("id") == good["id"]] == [
            {"type": "ack", "id": good["id"], "status": "accepted"}
        ]
    others = [a for a in answers if a.get("id") not in {first["id"], second["id"], last["id"]}]
    if field.frame == "message":
        (answer,) = others
        assert answer["id"] == frame["id"]
        if ok:
            assert answer == {"type": "ack", "id": frame["id"], "status": "accepted"}
        elif field.path == ("id",) and any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            assert (answer["type"], answer["code"]) == ("error", "bad_frame"), answer
        else:
            assert (answer["type"], answer["status"]) == ("ack", "rejected"), answer
            # A broken format may show in the field beside it (base64 that decodes to another size).
            assert answer["reason"].startswith(str(field.path[0]) if field.fixed else field.wire), answer
    elif field.frame == "hello" and ok:
        assert others == [{"type": "welcome", "protocol": 1}]
    elif ok:
        assert others == []
    else:
        (answer,) = others
        assert (answer["type"], answer["code"]) == ("error", "bad_frame"), answer
        assert "id" not in answer
        assert field.wire in answer["detail"] or field.path == (STATUS_KEY,), answer
    kept = {first["id"], second["id"], last["id"]}
    if field.frame != "message":
        return kept, set()
    return (kept | {frame["id"]}, set()) if ok else (kept, {frame["id"]})


@pytest.mark.parametrize("field", FIELDS, ids=str)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=values)
def test_a_bad_field_is_answered_alone_and_the_good_frames_are_kept(transactional_db, field, value) -> None:
    kept, refused = async_to_sync(exchange)(field, value)
    asked = kept | {mid for mid in refused if allowed(Field("", (), "name"), mid)}  # a surrogate cannot be looked up
    stored = set(InboundMessage.objects.filter(message_id__in=asked).values_list("message_id", flat=True))
    assert stored == kept


def test_every_string_field_a_bridge_sends_is_covered() -> None:
    covered = {(field.frame, field.path[-1] if len(field.path) == 1 else field.path) for field in FIELDS}
    for model, frame_type in ((Hello, "hello"), (Message, "message"), (Sent, "sent"), (Failed, "failed")):
        for name, info in model.model_fields.items():
            is_string = info.annotation is str or str in getattr(info.annotation, "__args__", ())
            if is_string and name != "type":
                assert (frame_type, info.alias or name) in covered, name
    nested = {field.path[-1] for field in FIELDS if len(field.path) > 1 and field.frame == "message"}
    for nested_model in (AttachmentFrame, ReplyTo):
        assert set(nested_model.model_fields) - {"size", "timestamp"} <= nested


async def test_a_hello_with_a_bad_client_gets_bad_frame_and_never_welcome(transactional_db) -> None:
    comm = communicator()
    await comm.connect(timeout=20)
    for client in ("py\x00", "py\ud800"):
        await comm.send_to(text_data=json.dumps({"type": "hello", "protocol": 1, "bot_id": BOT, "client": client}))
        answer = json.loads(encodable(await comm.receive_from(timeout=20)))
        assert (answer["type"], answer["code"]) == ("error", "bad_frame")
    await comm.send_to(text_data=json.dumps(message("/ping", mid="after-bad-hellos")))
    assert json.loads(await comm.receive_from(timeout=20))["code"] == "no_hello"
    await comm.disconnect()
    assert not await BridgeStatus.objects.aexists()


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ({"id": "plain é"}, '{"id":"plain é"}'),
        ({"id": "half\ud800pair"}, '{"id":"half\\ud800pair"}'),
        ({"id": "\udfff", "x": ["\ud83d"]}, '{"id":"\\udfff","x":["\\ud83d"]}'),
        ({"id": "not a surrogate: \\ud800"}, '{"id":"not a surrogate: \\\\ud800"}'),
        ({"id": "nul\x00"}, '{"id":"nul\\u0000"}'),
    ],
)
def test_frame_text_writes_a_lone_surrogate_as_its_escape(content, text) -> None:
    assert encodable(frame_text(content)) == text
    assert json.loads(text) == content


async def test_a_message_that_alone_could_not_be_stored_gets_internal_for_its_id_alone(
    transactional_db, monkeypatch: pytest.MonkeyPatch
) -> None:
    route = accept.inbound_route

    def route_failing_on_one(*, inbound: InboundMessage, **kwargs: Any) -> None:
        if inbound.message_id == "unlucky":
            raise RuntimeError("a bug that only this message meets")
        route(inbound=inbound, **kwargs)

    monkeypatch.setattr(accept, "inbound_route", route_failing_on_one)
    comm = communicator()
    await say_hello(comm)
    for mid in ("before", "unlucky", "after"):
        await comm.send_to(text_data=json.dumps(message("hi", mid=mid)))
    answers = {}
    for _ in range(3):
        answer = json.loads(await comm.receive_from(timeout=20))
        answers[answer["id"]] = (answer["type"], answer.get("status") or answer.get("code"))
    await comm.disconnect()
    assert answers == {"before": ("ack", "accepted"), "unlucky": ("error", "internal"), "after": ("ack", "accepted")}


async def test_a_message_whose_id_holds_a_lone_surrogate_gets_bad_frame_echoing_the_id_escaped(bridge) -> None:
    await bridge.send_to(text_data=json.dumps(message("hi", mid="hash-\udc80")))
    raw = await bridge.receive_from(timeout=20)
    assert '"id":"hash-\\udc80"' in encodable(raw)  # the bridge reads back the id it sent
    assert json.loads(raw) == {
        "type": "error",
        "code": "bad_frame",
        "detail": "message: id contains a lone surrogate",
        "id": "hash-\udc80",
    }
    await bridge.send_json_to(message("/ping", mid="after-surrogate-id"))
    assert json.loads(await bridge.receive_from(timeout=20))["status"] == "accepted"
