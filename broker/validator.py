"""Checks on what a bridge sends, beyond the frame's shape: IDs, sizes, control characters.

Pure module: no Django import. Each check returns ``None`` when the value is fine or a
reason in plain words, which the broker sends back in a ``rejected`` ack.
"""

from __future__ import annotations

import base64
import binascii
import re

from broker.frames import AttachmentFrame, Hello, Message, ReplyTo

MAX_TEXT_CODE_POINTS = 10_000
MAX_ATTACHMENT_BYTES = 10_000_000
MAX_ID_CHARS = 128
MAX_NAME_CHARS = 100
MAX_FILE_NAME_CHARS = 255
MAX_TIMESTAMP = 2**63 - 1  # the database column is 64-bit; past it storing fails, not rejects

SESSION_ID_RE = re.compile(r"05[0-9a-f]{64}")
GROUP_ID_RE = re.compile(r"03[0-9a-f]{64}")
# C0 and C1 controls except tab, line feed and carriage return, which text legitimately holds.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# In IDs and names even tab and newlines are wrong.
_ANY_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


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
    return None


def _id_check(value: str, what: str) -> str | None:
    if not value:
        return f"{what} is empty"
    if len(value) > MAX_ID_CHARS:
        return f"{what} is longer than {MAX_ID_CHARS} characters"
    if _ANY_CONTROL_RE.search(value):
        return f"{what} contains control characters"
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
    if _CONTROL_RE.search(text):
        return "text contains control characters"
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        return "text contains unpaired surrogates"
    return None


def attachment_check(attachment: AttachmentFrame, index: int) -> str | None:
    """Return why attachment number ``index`` (from 1) is not acceptable, or ``None``."""
    where = f"attachment {index}"
    if not attachment.name or len(attachment.name) > MAX_FILE_NAME_CHARS or _ANY_CONTROL_RE.search(attachment.name):
        return f"{where} has no usable file name"
    if _ANY_CONTROL_RE.search(attachment.content_type) or len(attachment.content_type) > 200:
        return f"{where} has an invalid content type"
    if attachment.size < 0:
        return f"{where} has a negative size"
    if attachment.size > MAX_ATTACHMENT_BYTES:
        return f"{where} is larger than {MAX_ATTACHMENT_BYTES:,} bytes"
    # Base64 of the largest allowed file; anything longer cannot decode to an allowed size.
    if len(attachment.data_b64) > (MAX_ATTACHMENT_BYTES + 2) // 3 * 4 + 4:
        return f"{where} is larger than {MAX_ATTACHMENT_BYTES:,} bytes"
    try:
        data = base64.b64decode(attachment.data_b64, validate=True)
    except (binascii.Error, ValueError):
        return f"{where} is not valid base64"
    if len(data) != attachment.size:
        return f"{where} says {attachment.size} bytes but holds {len(data)}"
    return None


def _reply_to_check(reply_to: ReplyTo) -> str | None:
    if _id_check(reply_to.id, "reply_to.id") is not None:
        return "reply_to.id is not a message hash"
    if reply_to.author and not is_session_id(reply_to.author):
        return "reply_to.author is not a Session ID"
    return None


def message_check(message: Message, *, max_attachments: int) -> str | None:
    """Return why ``message`` must be rejected, or ``None`` when it may be stored."""
    reason = _id_check(message.id, "id")
    if reason is None and not is_session_id(message.sender):
        reason = "from is not a Session ID (05 followed by 64 lowercase hex characters)"
    reason = reason or _conversation_check(message)
    if reason is None and message.timestamp < 0:
        reason = "timestamp is negative"
    if reason is None and message.timestamp > MAX_TIMESTAMP:
        reason = "timestamp is too large to be milliseconds since 1970"
    reason = reason or text_check(message.text)
    name = message.author_name
    if reason is None and name is not None and (len(name) > MAX_NAME_CHARS or _ANY_CONTROL_RE.search(name)):
        reason = f"author_name is longer than {MAX_NAME_CHARS} characters or contains control characters"
    if reason is None and message.reply_to is not None:
        reason = _reply_to_check(message.reply_to)
    attachments = message.attachments or ()
    if reason is None and len(attachments) > max_attachments:
        reason = f"too many attachments ({len(attachments)}; at most {max_attachments})"
    for index, attachment in enumerate(attachments, start=1):
        reason = reason or attachment_check(attachment, index)
    return reason
