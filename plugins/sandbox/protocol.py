"""The compact pipe protocol between a worker and its plugin host.

A frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON. JSON
rather than pickle: the worker must never unpickle what untrusted plugin code wrote.

Worker → host: ``init``, ``run``, ``health``, ``return`` (answer to a platform call).
Host → worker: ``ready`` or ``load_error`` (after init), ``call`` (a platform call made by
the plugin), ``result`` (after run or health).
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from plugins.api import Attachment, Reply

MAX_FRAME = 64 * 1024 * 1024


class ProtocolError(Exception):
    """The other side sent something that is not a frame, or went away."""


def frame_encode(message: dict[str, Any]) -> bytes:
    text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
    try:
        data = text.encode()
    except UnicodeEncodeError:
        # Lone surrogates (a plugin's text may hold them) travel escaped; the worker cleans them.
        data = json.dumps(message, separators=(",", ":")).encode()
    return len(data).to_bytes(4, "big") + data


def frame_decode(data: bytes) -> dict[str, Any]:
    try:
        message = json.loads(data)
    except ValueError as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(message, dict) or not isinstance(message.get("op"), str):
        raise ProtocolError("a frame must be an object with an op")
    return message


def read_exact(fd: int, size: int) -> bytes:
    """Read ``size`` bytes from ``fd``; ProtocolError on end of file."""
    chunks: list[bytes] = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise ProtocolError("the other side closed the pipe")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def frame_read(fd: int) -> dict[str, Any]:
    size = int.from_bytes(read_exact(fd, 4), "big")
    if size > MAX_FRAME:
        raise ProtocolError(f"frame of {size} bytes is too large")
    return frame_decode(read_exact(fd, size))


def frame_write(fd: int, message: dict[str, Any]) -> None:
    data = memoryview(frame_encode(message))
    while data:
        written = os.write(fd, data)
        data = data[written:]


def attachment_to_wire(item: Attachment) -> dict[str, str]:
    return {"name": item.name, "content_type": item.content_type, "data": base64.b64encode(item.data).decode()}


def attachment_from_wire(raw: dict[str, Any]) -> Attachment:
    return Attachment(
        name=str(raw.get("name", "")),
        content_type=str(raw.get("content_type", "application/octet-stream")),
        data=base64.b64decode(raw.get("data", "")),
    )


def reply_to_wire(reply: Reply) -> dict[str, Any]:
    return {"text": reply.text, "attachments": [attachment_to_wire(a) for a in reply.attachments]}


def reply_from_wire(raw: dict[str, Any]) -> Reply:
    return Reply(str(raw.get("text", "")), tuple(attachment_from_wire(a) for a in raw.get("attachments", [])))
