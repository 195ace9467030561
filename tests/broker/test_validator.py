"""What the broker refuses from a bridge, and the plain words it gives as the reason."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.frames import AttachmentFrame, Hello, Message, ReplyTo
from broker.validator import hello_check, message_check, text_check

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
        ({"author_name": "x" * 101}, "author_name is longer than 100 characters or contains control characters"),
        ({"reply_to": ReplyTo(id="", author=USER, timestamp=1)}, "reply_to.id is not a message hash"),
        ({"reply_to": ReplyTo(id="q", author="me", timestamp=1)}, "reply_to.author is not a Session ID"),
        ({"attachments": (att(),) * 3}, "too many attachments (3; at most 2)"),
        ({"attachments": (att(name=""),)}, "attachment 1 has no usable file name"),
        ({"attachments": (att(size=-1),)}, "attachment 1 has a negative size"),
        ({"attachments": (att(size=10_000_001),)}, "attachment 1 is larger than 10,000,000 bytes"),
        ({"attachments": (att(data_b64="not base64!"),)}, "attachment 1 is not valid base64"),
        ({"attachments": (att(b"abc", size=4),)}, "attachment 1 says 4 bytes but holds 3"),
        ({"attachments": (att(), att(content_type="a\nb"))}, "attachment 2 has an invalid content type"),
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
