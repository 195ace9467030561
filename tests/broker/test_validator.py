"""What the broker refuses from a bridge, and the plain words it gives as the reason."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from bridgeprotocol.frames import Ack, AttachmentFrame, Error, Failed, Hello, Message, ReplyTo, Sent, Status
from broker.validator import (
    FIELD_KINDS,
    MAX_TIMESTAMP,
    Kind,
    fields_problem,
    frame_fault,
    hello_check,
    message_check,
    string_problem,
    text_check,
)

USER = "05" + "ab" * 32
GROUP = "03" + "cd" * 32


def msg(**fields) -> Message:
    data = {"id": "h", "from": USER, "conversation": USER, "conversation_type": "private", "timestamp": 1, "text": "hi"}
    data.update(fields)
    return Message.model_validate(data)


def att(data: bytes = b"abc", **fields) -> AttachmentFrame:
    values = {
        "name": "a.txt",
        "content_type": "text/plain",
        "size": len(data),
        "data_b64": base64.b64encode(data).decode(),
    }
    values.update(fields)
    return AttachmentFrame(**values)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, None),
        ({"conversation": GROUP, "conversation_type": "group"}, None),
        ({"text": ""}, None),
        ({"text": "x" * 10_000}, None),
        ({"text": "tabs\tand\nlines\r\n"}, None),
        ({"text": "emoji 👨‍👩‍👧 and 中文"}, None),
        ({"id": ""}, "id is empty"),
        ({"id": "x" * 129}, "id is longer than 128 characters"),
        ({"id": "a\nb"}, "id contains control characters"),
        ({"from": "05" + "AB" * 32}, "from is not a Session ID (05 followed by 64 lowercase hex characters)"),
        ({"from": "15" + "ab" * 32}, "from is not a Session ID (05 followed by 64 lowercase hex characters)"),
        ({"conversation": GROUP}, "conversation of a private message is not a Session ID"),
        (
            {"conversation_type": "group"},
            "conversation of a group message is not a group ID (03 followed by 64 lowercase hex characters)",
        ),
        ({"timestamp": -5}, "timestamp is negative"),
        ({"text": "x" * 10_001}, "text is longer than 10,000 characters"),
        ({"text": "nul\x00"}, "text contains control characters"),
        ({"text": "esc\x1b[31m"}, "text contains control characters"),
        ({"text": "c1\x85"}, "text contains control characters"),
        ({"author_name": "x" * 101}, "author_name is longer than 100 characters"),
        ({"author_name": "x" * 100}, None),
        ({"author_name": "Ana 👨‍👩‍👧"}, None),
        ({"author_name": "Ana\ud800"}, "author_name contains a lone surrogate"),
        ({"author_name": "Ana\tB"}, "author_name contains control characters"),
        ({"author_name": "Ana\u2028B"}, "author_name contains a line separator"),
        ({"id": "h\ud800"}, "id contains a lone surrogate"),
        ({"id": "h\u200b"}, "id contains invisible format characters"),
        ({"id": "x" * 128}, None),
        ({"text": "half a pair \udc00"}, "text contains a lone surrogate"),
        ({"text": "line\u2028separator"}, None),
        ({"from": USER + "\x00"}, "from contains control characters"),
        ({"timestamp": 0}, None),
        ({"timestamp": MAX_TIMESTAMP}, None),
        ({"timestamp": MAX_TIMESTAMP + 1}, "timestamp is too large to be milliseconds since 1970"),
        ({"reply_to": ReplyTo(id="q", author=USER, timestamp=1)}, None),
        ({"reply_to": ReplyTo(id="q", author="", timestamp=1)}, None),
        ({"reply_to": ReplyTo(id="x" * 129, author=USER, timestamp=1)}, "reply_to.id is longer than 128 characters"),
        ({"reply_to": ReplyTo(id="", author="me", timestamp=1)}, "reply_to.author is not a Session ID"),
        ({"reply_to": ReplyTo(id="q\ud800", author=USER, timestamp=1)}, "reply_to.id contains a lone surrogate"),
        ({"reply_to": ReplyTo(id="q", author=USER + "\n", timestamp=1)}, "reply_to.author contains control characters"),
        ({"attachments": (att(name="a\ud800"),)}, "attachments[0].name contains a lone surrogate"),
        (
            {"attachments": (att(), att(content_type="t/\udfff"))},
            "attachments[1].content_type contains a lone surrogate",
        ),
        ({"attachments": (att(data_b64="YWJj\x00"),)}, "attachments[0].data_b64 contains control characters"),
        ({"attachments": (att(b""),)}, None),
        ({"attachments": (att(), att())}, None),
        ({"attachments": (att(name="n" * 255, content_type="t" * 200),)}, None),
        ({"attachments": (att(name="n" * 256),)}, "attachments[0].name is empty or longer than 255 characters"),
        ({"attachments": (att(content_type="t" * 201),)}, "attachments[0].content_type is longer than 200 characters"),
        ({"attachments": (att(data_b64="A" * 13_333_344),)}, "attachments[0] is larger than 10,000,000 bytes"),
        ({"attachments": (att(data_b64="A" * 13_333_341),)}, "attachments[0] is larger than 10,000,000 bytes"),
        ({"attachments": (att(data_b64="YW Jj"),)}, "attachments[0].data_b64 is not valid base64"),
        (
            {"attachments": (att(data_b64="A" * 13_333_340),)},  # the longest that is decoded
            "attachments[0].size says 3 bytes but data_b64 holds 10000005",
        ),
        ({"reply_to": ReplyTo(id="", author=USER, timestamp=1)}, "reply_to.id is empty"),
        ({"reply_to": ReplyTo(id="q", author="me", timestamp=1)}, "reply_to.author is not a Session ID"),
        ({"attachments": (att(),) * 3}, "too many attachments (3; at most 2)"),
        ({"attachments": (att(name=""),)}, "attachments[0].name is empty or longer than 255 characters"),
        ({"attachments": (att(size=-1),)}, "attachments[0].size is negative"),
        ({"attachments": (att(size=10_000_001),)}, "attachments[0] is larger than 10,000,000 bytes"),
        ({"attachments": (att(data_b64="not base64!"),)}, "attachments[0].data_b64 is not valid base64"),
        ({"attachments": (att(data_b64="YWJ\u00e9"),)}, "attachments[0].data_b64 is not valid base64"),
        ({"attachments": (att(b"abc", size=4),)}, "attachments[0].size says 4 bytes but data_b64 holds 3"),
        ({"attachments": (att(), att(content_type="a\nb"))}, "attachments[1].content_type contains control characters"),
    ],
)
def test_message_check_table(fields, reason) -> None:
    assert message_check(msg(**fields), max_attachments=2) == reason


def test_an_attachment_of_exactly_ten_million_bytes_is_accepted() -> None:
    big = att(b"\0" * 10_000_000)
    assert message_check(msg(attachments=(big,)), max_attachments=1) is None


@pytest.mark.parametrize(
    ("hello", "reason"),
    [
        (Hello(protocol=1, bot_id=USER), None),
        (Hello(protocol=2, bot_id=USER), "protocol 2 is not supported; this broker speaks protocol 1"),
        (Hello(protocol=1, bot_id="05"), "bot_id is not a Session ID (05 followed by 64 lowercase hex characters)"),
    ],
)
def test_hello_check_table(hello, reason) -> None:
    assert hello_check(hello) == reason


printable = st.text(st.characters(blacklist_categories=("Cc", "Cs")) | st.sampled_from("\t\n\r"), max_size=300)


@given(text=printable)
def test_any_text_without_control_characters_is_accepted(text) -> None:
    assert text_check(text) is None


@given(before=printable, control=st.characters(categories=["Cc"]).filter(lambda c: c not in "\t\n\r"), after=printable)
def test_any_control_character_is_rejected(before, control, after) -> None:
    assert text_check(before + control + after) == "text contains control characters"


visible = st.text(st.characters(categories=["L", "N", "P", "S"]), max_size=50)


@given(before=visible, surrogate=st.characters(categories=["Cs"]), after=visible, kind=st.sampled_from(Kind))
def test_no_kind_of_string_holds_a_lone_surrogate(before, surrogate, after, kind) -> None:
    assert string_problem(before + surrogate + after, kind) == "contains a lone surrogate"


ID, NAME, TEXT = Kind.ID, Kind.NAME, Kind.TEXT
CONTROL, SURROGATE = "contains control characters", "contains a lone surrogate"
SEPARATOR, FORMAT = "contains a line separator", "contains invisible format characters"


@pytest.mark.parametrize(
    ("value", "problems"),  # the problem for an ID, a name and a text
    [
        ("", (None, None, None)),
        ("hash-05ab 12", (None, None, None)),
        ("é中文 \xa0 \ue000 \ud7ff", (None, None, None)),  # the last two: private use, just below surrogates
        ("\U0001f600", (None, None, None)),
        ("a\ud800", (SURROGATE, SURROGATE, SURROGATE)),
        ("\udfff", (SURROGATE, SURROGATE, SURROGATE)),
        ("\x00", (CONTROL, CONTROL, CONTROL)),
        ("\x08", (CONTROL, CONTROL, CONTROL)),
        ("\t", (CONTROL, CONTROL, None)),
        ("\n", (CONTROL, CONTROL, None)),
        ("\r", (CONTROL, CONTROL, None)),
        ("\x0b", (CONTROL, CONTROL, CONTROL)),
        ("\x0c", (CONTROL, CONTROL, CONTROL)),
        ("\x0e", (CONTROL, CONTROL, CONTROL)),
        ("\x1f", (CONTROL, CONTROL, CONTROL)),
        ("\x7f", (CONTROL, CONTROL, CONTROL)),
        ("\x85", (CONTROL, CONTROL, CONTROL)),
        ("\x9f", (CONTROL, CONTROL, CONTROL)),
        ("a\u2028b", (SEPARATOR, SEPARATOR, None)),
        ("a\u2029b", (SEPARATOR, SEPARATOR, None)),
        ("a\u200db", (FORMAT, None, None)),
        ("\ufeffa", (FORMAT, None, None)),
        ("\u202eevil", (FORMAT, None, None)),
        ("👨\u200d👩", (FORMAT, None, None)),
    ],
)
def test_string_problem_table(value, problems) -> None:
    assert (string_problem(value, ID), string_problem(value, NAME), string_problem(value, TEXT)) == problems


def test_an_id_of_a_ten_megabyte_ascii_string_is_checked() -> None:
    assert string_problem("A" * 10_000_000, ID) is None
    assert string_problem("A" * 10_000_000 + "\x00", ID) == CONTROL


class Tagged(BaseModel):
    tags: tuple[str, ...]


def hello(**fields) -> Hello:
    return Hello.model_validate({"protocol": 1, "bot_id": USER, "client": "tests/1", **fields})


def status(**fields) -> Status:
    return Status.model_validate({"type": "status", **fields})


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        (hello(), None),
        (hello(client="py\ud800"), "client contains a lone surrogate"),
        (hello(client="py\x00"), "client contains control characters"),
        (hello(client="py\u2028"), "client contains a line separator"),
        (hello(client="é" * 10_000), None),
        (Sent(ref="r", hash="h", timestamp=2**70), None),
        (Sent(ref="r\ud800", hash="h", timestamp=1), "ref contains a lone surrogate"),
        (Sent(ref="r", hash="h\n", timestamp=1), "hash contains control characters"),
        (Failed(ref="r", reason="two\nlines\tand\u2028", retry=True), None),
        (Failed(ref="r", reason="nul\x00", retry=True), "reason contains control characters"),
        (Failed(ref="r\u200b", reason="x", retry=False), "ref contains invisible format characters"),
        (status(polling=True, errors={"poll": 1}, recent=["ok", 2, None]), None),
        (status(note="a\x00"), "note contains control characters"),
        (status(errors={"poll": "p\ud800"}), "errors.poll contains a lone surrogate"),
        (status(recent=["ok", "x\x1b"]), "recent[1] contains control characters"),
        (status(deep={"list": [{"name": "\x07"}]}), "deep.list[0].name contains control characters"),
        (status(**{"bad\x00name": 1}), "'bad\\x00name' contains control characters"),
        (status(errors={"p\ud800": 1}), "errors.'p\\ud800' contains a lone surrogate"),
        (status(errors={"two\nlines": 1}), "errors.'two\\nlines' contains control characters"),
        (status(note="two\nlines"), None),
        (msg(text="tab\there"), None),
        (msg(**{"from": "05\x7f"}), "from contains control characters"),
        (msg(conversation="c\x00"), "conversation contains control characters"),
        (Error(code="x", detail="\u200b"), "detail contains invisible format characters"),  # no kind: held to ID
        (Tagged(tags=("a", "b\u200b")), "tags[1] contains invisible format characters"),
    ],
)
def test_fields_problem_names_the_field_on_the_wire(frame, problem) -> None:
    assert fields_problem(frame) == problem


@pytest.mark.parametrize(
    ("frame", "fault"),
    [
        (msg(), None),
        (msg(id="h\ud800"), "message: id contains a lone surrogate"),
        (msg(id="h\x00"), None),  # rejected, echoing its id: a NUL can be written as JSON
        (msg(author_name="\ud800"), None),  # the message alone is rejected
        (hello(), None),
        (hello(protocol=2), "protocol 2 is not supported; this broker speaks protocol 1"),
        (hello(bot_id="05\ud800"), "bot_id is not a Session ID (05 followed by 64 lowercase hex characters)"),
        (hello(client="x\x00"), "hello: client contains control characters"),
        (Sent(ref="r", hash="h", timestamp=1), None),
        (Sent(ref="r", hash="h\x00", timestamp=1), "sent: hash contains control characters"),
        (Failed(ref="r", reason="\ud800", retry=True), "failed: reason contains a lone surrogate"),
        (status(polling=True), None),
        (status(polling="\x00"), "status: polling contains control characters"),
        (Ack(id="\x00", status="accepted"), None),  # not a bridge's frame: the consumer refuses it
    ],
)
def test_frame_fault_refuses_a_frame_whose_own_fields_are_bad(frame, fault) -> None:
    assert frame_fault(frame) == fault


def _string_fields(model) -> set[str]:
    return {
        name
        for name, info in model.model_fields.items()
        if info.annotation is str or str in getattr(info.annotation, "__args__", ())
    }


@pytest.mark.parametrize("model", [Hello, Message, AttachmentFrame, ReplyTo, Sent, Failed])
def test_every_string_field_a_bridge_sends_has_a_kind(model) -> None:
    assert _string_fields(model) <= set(FIELD_KINDS[model])
