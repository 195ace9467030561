"""Wire frames of the bridge protocol, version 1 (``docs/bridge-protocol.md``).

One frozen pydantic model per ``type``; unknown extra fields are ignored, as the protocol
requires. :func:`parse_frame` is the one entry point and raises only :class:`FrameError`.
Pure module: no Django import, shared by the broker's consumer and the bundled bridge.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, TypeAdapter, ValidationError

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 16 * 1024 * 1024


class FrameError(Exception):
    """A frame that is not valid protocol; ``code`` is the protocol's error code."""

    def __init__(self, detail: str, *, code: str = "bad_frame", frame_id: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.frame_id = frame_id


# A lone surrogate (which JSON's \u escapes can carry in) has no UTF-8 form: written as it
# is, the frame could not be sent at all.
_LONE_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def frame_text(content: dict[str, Any]) -> str:
    """A frame as it goes on the wire: compact JSON, UTF-8 text left as it is, except that a
    lone surrogate is written as its ``\\uXXXX`` escape, so every frame can be sent."""
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return _LONE_SURROGATE_RE.sub(lambda found: f"\\u{ord(found[0]):04x}", text)


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    def dump(self) -> dict[str, Any]:
        """Return the JSON-ready dict, with protocol field names and no unset optionals."""
        return self.model_dump(by_alias=True, exclude_none=True)

    def to_json(self) -> str:
        return frame_text(self.dump())


class AttachmentFrame(_Frame):
    name: StrictStr
    content_type: StrictStr
    size: StrictInt
    data_b64: StrictStr


class ReplyTo(_Frame):
    id: StrictStr
    author: StrictStr
    timestamp: StrictInt


# --- bridge → broker ----------------------------------------------------------------------


class Hello(_Frame):
    type: Literal["hello"] = "hello"
    protocol: StrictInt
    bot_id: StrictStr
    client: StrictStr = ""
    # Optional frames the bridge takes (an addition: older brokers ignore the field and
    # send none of them). "typing": the broker's ``typing`` frames.
    features: tuple[StrictStr, ...] | None = None
    # Which bridge this is (an addition): a random ID the bridge makes once and keeps with
    # its state, so that its reconnects, and a restart of it, take over its own lease.
    instance: StrictStr | None = None


class Message(_Frame):
    type: Literal["message"] = "message"
    id: StrictStr
    sender: StrictStr = Field(alias="from")
    conversation: StrictStr
    conversation_type: Literal["private", "group"]
    timestamp: StrictInt
    text: StrictStr
    author_name: StrictStr | None = None
    attachments: tuple[AttachmentFrame, ...] | None = None
    reply_to: ReplyTo | None = None


class Sent(_Frame):
    type: Literal["sent"] = "sent"
    ref: StrictStr
    hash: StrictStr
    timestamp: StrictInt


class Failed(_Frame):
    type: Literal["failed"] = "failed"
    ref: StrictStr
    reason: StrictStr
    retry: StrictBool


class Status(_Frame):
    model_config = ConfigDict(extra="allow", frozen=True)
    type: Literal["status"] = "status"


# --- broker → bridge ----------------------------------------------------------------------


class Welcome(_Frame):
    type: Literal["welcome"] = "welcome"
    protocol: StrictInt = PROTOCOL_VERSION


class Ack(_Frame):
    type: Literal["ack"] = "ack"
    id: StrictStr
    status: Literal["accepted", "duplicate", "rejected"]
    reason: StrictStr | None = None


class Send(_Frame):
    type: Literal["send"] = "send"
    ref: StrictStr
    to: StrictStr
    text: StrictStr
    attachments: tuple[AttachmentFrame, ...] | None = None
    reply_to: ReplyTo | None = None


class Typing(_Frame):
    """Show the typing indicator in ``to``: a command of its user is still being worked on.

    Sent only to a bridge whose ``hello`` listed the ``typing`` feature, again every
    ``TYPING_REFRESH_SECONDS`` while the work goes on (Session shows an indicator for 20 s).
    """

    type: Literal["typing"] = "typing"
    to: StrictStr


TYPING = "typing"  # the feature a bridge lists in its hello to get Typing frames
# The error code and close code for a bridge connection of a bot another one holds (the
# second bridge, or the older connection of a bridge that reconnected).
BRIDGE_CONFLICT = "bridge_conflict"
CLOSE_BRIDGE_CONFLICT = 4409
# The error codes and close code for a bridge of a bot the broker does not serve.
BOT_NOT_SERVED = frozenset({"bot_disabled", "bot_removed"})
CLOSE_BOT_NOT_SERVED = 4403
TYPING_REFRESH_SECONDS = 12.0


class Error(_Frame):
    type: Literal["error"] = "error"
    code: StrictStr
    detail: StrictStr
    id: StrictStr | None = None


Frame = Annotated[
    Hello | Message | Sent | Failed | Status | Welcome | Ack | Send | Typing | Error,
    Field(discriminator="type"),
]
_FRAME_ADAPTER: TypeAdapter[Frame] = TypeAdapter(Frame)
KNOWN_TYPES = frozenset({"hello", "message", "sent", "failed", "status", "welcome", "ack", "send", "typing", "error"})


def parse_frame(raw: str | bytes) -> Frame:
    """Parse one text frame into its model; raise :class:`FrameError` for anything else."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FrameError("frame is not UTF-8 text") from None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise FrameError("frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise FrameError("frame is not a JSON object")
    frame_type = data.get("type")
    frame_id = data.get("id") if isinstance(data.get("id"), str) else None
    if not isinstance(frame_type, str):
        raise FrameError("frame has no string field 'type'", frame_id=frame_id)
    if frame_type not in KNOWN_TYPES:
        raise FrameError(f"unknown frame type {frame_type[:40]!r}", frame_id=frame_id)
    try:
        return _FRAME_ADAPTER.validate_python(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"][1:]) or frame_type
        raise FrameError(f"{frame_type}: field {where!r}: {err['msg']}", frame_id=frame_id) from None
    except RecursionError:
        raise FrameError("frame is nested too deeply", frame_id=frame_id) from None
