"""Checks on what a bridge sends, beyond the frame's shape: every string, IDs, sizes.

Pure module: no Django import. Each check returns ``None`` when the value is fine or a
reason in plain words, which the broker sends back in a ``rejected`` ack or an ``error``.

One rule covers every string that crosses the wire: :data:`FIELD_KINDS` gives each string
field of each frame its :class:`Kind`, and :func:`fields_problem` walks a parsed frame,
nested models and a status frame's free fields included, before anything is stored. A
string that holds a lone surrogate cannot be written as UTF-8 (not to the database, not
to a log, not back to the bridge), so no kind allows one.
"""

from __future__ import annotations

import base64
import binascii
import enum
import functools
import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

import regex
from pydantic import BaseModel

from bridgeprotocol.frames import AttachmentFrame, Failed, Hello, Message, ReplyTo, Sent, Status

MAX_TEXT_CODE_POINTS = 10_000
MAX_ATTACHMENT_BYTES = 10_000_000
MAX_ID_CHARS = 128
MAX_INSTANCE_CHARS = 64  # a hello's instance, kept in BridgeStatus.instance
MAX_NAME_CHARS = 100
MAX_FILE_NAME_CHARS = 255
MAX_CONTENT_TYPE_CHARS = 200
# Base64 of the largest allowed file, and a little more; anything longer cannot decode to an
# allowed size, and is not decoded.
MAX_BASE64_CHARS = (MAX_ATTACHMENT_BYTES + 2) // 3 * 4 + 4
MAX_TIMESTAMP = 2**63 - 1  # the database column is 64-bit; past it storing fails, not rejects

SESSION_ID_RE = re.compile(r"05[0-9a-f]{64}")
GROUP_ID_RE = re.compile(r"03[0-9a-f]{64}")
_LONE_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# Lone surrogates; C0 and C1 controls except tab, line feed and carriage return, which text
# legitimately holds.
_TEXT_UNWANTED_RE = re.compile("[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# In IDs and names even tab and newlines are wrong, and so are the Unicode line separators.
_LINE_UNWANTED_RE = re.compile("[\ud800-\udfff\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Invisible format characters (zero-width, bidirectional overrides): fine in a name's emoji,
# but an ID that holds one looks like another. None is ASCII.
_FORMAT_RE = regex.compile(r"\p{Cf}")
_PROBLEMS = {
    "Cs": "contains a lone surrogate",
    "Cc": "contains control characters",
    "Zl": "contains a line separator",
    "Zp": "contains a line separator",
}


class Kind(enum.Enum):
    """What a string field may hold."""

    ID = "id"  # hashes, refs, Session IDs: visible characters on one line
    NAME = "name"  # names, content types, a client's name: any text on one line
    TEXT = "text"  # message bodies and free text: lines and tabs too


# Every string field of every frame a bridge sends; a field not named here is held to ``ID``.
FIELD_KINDS: Mapping[type[BaseModel], Mapping[str, Kind]] = {
    Hello: {"type": Kind.ID, "bot_id": Kind.ID, "client": Kind.NAME, "instance": Kind.ID},
    Message: {
        "type": Kind.ID,
        "id": Kind.ID,
        "sender": Kind.ID,
        "conversation": Kind.ID,
        "conversation_type": Kind.ID,
        "text": Kind.TEXT,
        "author_name": Kind.NAME,
    },
    AttachmentFrame: {"name": Kind.NAME, "content_type": Kind.NAME, "data_b64": Kind.ID},
    ReplyTo: {"id": Kind.ID, "author": Kind.ID},
    Sent: {"type": Kind.ID, "ref": Kind.ID, "hash": Kind.ID},
    Failed: {"type": Kind.ID, "ref": Kind.ID, "reason": Kind.TEXT},
    Status: {"type": Kind.ID},
}
# A status frame's free fields: their names are names, their string values free text.
STATUS_NAME_KIND = Kind.NAME
STATUS_VALUE_KIND = Kind.TEXT


def string_problem(value: str, kind: Kind) -> str | None:
    """Return what is wrong with ``value`` as a string of ``kind`` ("contains …"), or ``None``."""
    found = (_TEXT_UNWANTED_RE if kind is Kind.TEXT else _LINE_UNWANTED_RE).search(value)
    if found is not None:
        return _PROBLEMS[unicodedata.category(found[0])]
    if kind is Kind.ID and not value.isascii() and _FORMAT_RE.search(value):
        return "contains invisible format characters"
    return None


@functools.cache
def _fields_of(model: type[BaseModel]) -> tuple[tuple[str, str, Kind], ...]:
    """``(attribute, name on the wire, kind)`` of each field of ``model``, worked out once."""
    kinds = FIELD_KINDS.get(model, {})
    return tuple((name, info.alias or name, kinds.get(name, Kind.ID)) for name, info in model.model_fields.items())


def frame_strings(frame: BaseModel, prefix: str = "") -> Iterator[tuple[str, str, Kind]]:
    """Yield ``(wire path, string, kind)`` for every string in ``frame``, nested ones included."""
    for name, wire, kind in _fields_of(type(frame)):
        value = getattr(frame, name)
        if isinstance(value, str):  # most fields: no generator of their own
            yield prefix + wire, value, kind
        elif value is not None:
            yield from _value_strings(value, prefix + wire, kind)
    if frame.model_extra:
        yield from _free_strings(frame.model_extra, prefix)


def _value_strings(value: object, path: str, kind: Kind) -> Iterator[tuple[str, str, Kind]]:
    if isinstance(value, str):
        yield path, value, kind
    elif isinstance(value, BaseModel):
        yield from frame_strings(value, path + ".")
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            yield from _value_strings(item, f"{path}[{index}]", kind)


def _free_strings(fields: dict[str, Any], prefix: str) -> Iterator[tuple[str, str, Kind]]:
    """The strings of free JSON fields, names included, without recursion (any depth parses)."""
    todo: list[tuple[str, object]] = [(prefix, fields)]
    while todo:
        path, value = todo.pop()
        if isinstance(value, str):
            yield path, value, STATUS_VALUE_KIND
        elif isinstance(value, dict):
            for key, item in value.items():
                # A bad name is shown escaped: the reason goes back to the bridge and to logs.
                yield f"{path}{key!a}", key, STATUS_NAME_KIND
                todo.append((f"{path}{key}.", item))
        elif isinstance(value, list):
            todo.extend((f"{path.removesuffix('.')}[{index}].", item) for index, item in enumerate(value))


def fields_problem(frame: BaseModel) -> str | None:
    """Return the first string of ``frame`` its field's kind does not allow, as a reason naming
    the field (``attachments[0].name contains a lone surrogate``), or ``None``."""
    for path, value, kind in frame_strings(frame):
        problem = string_problem(value, kind)
        if problem is not None:
            return f"{path.removesuffix('.')} {problem}"
    return None


def frame_fault(frame: BaseModel) -> str | None:
    """Return why ``frame`` as a whole is refused (an ``error`` ``bad_frame``), or ``None``.

    A message is refused whole only when its ``id`` holds a lone surrogate (an ID the bridge
    may not be able to match again); its other faults reject it alone (:func:`message_check`).
    """
    if isinstance(frame, Message):
        return "message: id contains a lone surrogate" if _LONE_SURROGATE_RE.search(frame.id) else None
    if not isinstance(frame, Hello | Sent | Failed | Status):
        return None  # not a bridge's frame: the consumer says so
    if isinstance(frame, Hello) and (reason := hello_check(frame)) is not None:
        return reason
    problem = fields_problem(frame)
    return None if problem is None else f"{frame.type}: {problem}"


def is_session_id(value: str) -> bool:
    return SESSION_ID_RE.fullmatch(value) is not None


def is_group_id(value: str) -> bool:
    return GROUP_ID_RE.fullmatch(value) is not None


def hello_check(hello: Hello) -> str | None:
    """Return why a ``hello`` cannot be accepted, or ``None``."""
    if hello.protocol != 1:
        return f"protocol {hello.protocol} is not supported; this broker speaks protocol 1"
    if not is_session_id(hello.bot_id):
        return "bot_id is not a Session ID (05 followed by 64 lowercase hex characters)"
    if hello.instance is not None and not 0 < len(hello.instance) <= MAX_INSTANCE_CHARS:
        return f"instance must hold 1 to {MAX_INSTANCE_CHARS} characters"
    return None


def _id_check(value: str, what: str) -> str | None:
    if not value:
        return f"{what} is empty"
    if len(value) > MAX_ID_CHARS:
        return f"{what} is longer than {MAX_ID_CHARS} characters"
    return None


def _conversation_check(message: Message) -> str | None:
    if message.conversation_type == "private":
        if not is_session_id(message.conversation):
            return "conversation of a private message is not a Session ID"
    elif not is_group_id(message.conversation):
        return "conversation of a group message is not a group ID (03 followed by 64 lowercase hex characters)"
    return None


def text_check(text: str) -> str | None:
    """Return why ``text`` is not acceptable as a message body, or ``None``."""
    if len(text) > MAX_TEXT_CODE_POINTS:
        return f"text is longer than {MAX_TEXT_CODE_POINTS:,} characters"
    problem = string_problem(text, Kind.TEXT)
    return None if problem is None else f"text {problem}"


def attachment_check(attachment: AttachmentFrame, index: int) -> str | None:
    """Return why ``attachments[index]`` is not acceptable, or ``None``."""
    where = f"attachments[{index}]"
    if not attachment.name or len(attachment.name) > MAX_FILE_NAME_CHARS:
        return f"{where}.name is empty or longer than {MAX_FILE_NAME_CHARS} characters"
    if len(attachment.content_type) > MAX_CONTENT_TYPE_CHARS:
        return f"{where}.content_type is longer than {MAX_CONTENT_TYPE_CHARS} characters"
    if attachment.size < 0:
        return f"{where}.size is negative"
    if attachment.size > MAX_ATTACHMENT_BYTES:
        return f"{where} is larger than {MAX_ATTACHMENT_BYTES:,} bytes"
    if len(attachment.data_b64) > MAX_BASE64_CHARS:
        return f"{where} is larger than {MAX_ATTACHMENT_BYTES:,} bytes"
    try:
        data = base64.b64decode(attachment.data_b64, validate=True)
    except (binascii.Error, ValueError):
        return f"{where}.data_b64 is not valid base64"
    if len(data) != attachment.size:
        return f"{where}.size says {attachment.size} bytes but data_b64 holds {len(data)}"
    return None


def _reply_to_check(reply_to: ReplyTo) -> str | None:
    if reply_to.author and not is_session_id(reply_to.author):
        return "reply_to.author is not a Session ID"
    return _id_check(reply_to.id, "reply_to.id")


def message_check(message: Message, *, max_attachments: int) -> str | None:
    """Return why ``message`` must be rejected, or ``None`` when it may be stored."""
    reason = fields_problem(message) or _id_check(message.id, "id")
    if reason is None and not is_session_id(message.sender):
        reason = "from is not a Session ID (05 followed by 64 lowercase hex characters)"
    reason = reason or _conversation_check(message)
    if reason is None and message.timestamp < 0:
        reason = "timestamp is negative"
    if reason is None and message.timestamp > MAX_TIMESTAMP:
        reason = "timestamp is too large to be milliseconds since 1970"
    reason = reason or text_check(message.text)
    name = message.author_name
    if reason is None and name is not None and len(name) > MAX_NAME_CHARS:
        reason = f"author_name is longer than {MAX_NAME_CHARS} characters"
    if reason is None and message.reply_to is not None:
        reason = _reply_to_check(message.reply_to)
    attachments = message.attachments or ()
    if reason is None and len(attachments) > max_attachments:
        reason = f"too many attachments ({len(attachments)}; at most {max_attachments})"
    for index, attachment in enumerate(attachments):
        reason = reason or attachment_check(attachment, index)
    return reason
