"""What a bridge connection's core (``broker.connection``) asks its adapter to do. Pure data.

Effects go to the bridge (``Write``, ``Close``) or the log (``Note``); jobs go to the
database. The adapter performs them in the order given and hands each job's result back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bridgeprotocol.frames import Message


@dataclass(frozen=True, slots=True)
class Write:
    """Send ``frame`` to the bridge, after every frame written before it."""

    frame: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Close:
    """Close the WebSocket with ``code``."""

    code: int


@dataclass(frozen=True, slots=True)
class Note:
    """Log ``text`` at ``level`` (a ``logging`` level)."""

    level: int
    text: str


@dataclass(frozen=True, slots=True)
class StoreHello:
    """Record the bridge's hello; the result (``broker.bridges.Connected``) says which bot
    it is, or why it is refused."""

    bot_id: str
    client: str
    protocol: int


@dataclass(frozen=True, slots=True)
class AcceptMany:
    """Store ``messages`` of one lane in one transaction; the result has one
    ``status``/``reason`` each, in order."""

    lane: int
    bot: int  # the bot's key
    bot_id: str  # its Session ID
    messages: tuple[Message, ...]


@dataclass(frozen=True, slots=True)
class ConfirmMany:
    """Mark the sends of ``(ref, hash, timestamp)`` delivered (refs are unique across bots)."""

    confirms: tuple[tuple[str, str, int], ...]


@dataclass(frozen=True, slots=True)
class FailStore:
    """Record that the bridge could not send ``ref``."""

    ref: str
    reason: str
    retry: bool


@dataclass(frozen=True, slots=True)
class StatusStore:
    """Keep the bridge's latest ``status`` frame."""

    bot_id: str
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReadRung:
    """Read bot ``bot``'s pending, due sends among ``refs`` (named by doorbell rings); result :class:`Found`."""

    bot: int
    refs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReadDue:
    """Poll bot ``bot``'s outbox (``broker.outbox.outbox_due``'s arguments); result :class:`Found`."""

    bot: int
    after_id: int
    retry_refs: frozenset[str]
    limit: int
    due_only: bool
    skip_refs: frozenset[str]


@dataclass(frozen=True, slots=True)
class ReadWorking:
    """Read the conversations whose commands bot ``bot`` still works on; result: their IDs."""

    bot: int


@dataclass(frozen=True, slots=True)
class StoreClose:
    """Record that the connection whose hello was at ``connected_at`` closed."""

    bot_id: str
    connected_at: datetime


@dataclass(frozen=True, slots=True)
class Found:
    """What a read of the outbox found: ``send`` frames, oldest first; a poll also says the
    highest id it saw and whether it hit its limit."""

    sends: list[dict[str, Any]] = field(default_factory=list)
    high_id: int = 0
    more: bool = False


Job = StoreHello | AcceptMany | ConfirmMany | FailStore | StatusStore | ReadRung | ReadDue | ReadWorking | StoreClose
Effect = Write | Close | Note | Job
