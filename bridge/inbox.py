"""Which fetched messages are still waiting for the broker's ack, and how far the cursor may go.

Pure module. The poll cursor may pass a message only when it and every message fetched
before it are settled (acked, or not for the broker at all), so a crash re-delivers.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from bridgeprotocol.frames import Message

SETTLED_KEPT = 10_000


def _size(frame: Message) -> int:
    return len(frame.text) + sum(len(att.data_b64) for att in frame.attachments or ())


@dataclass(frozen=True, slots=True)
class Fetched:
    hash: str
    frame: Message | None  # None: nothing for the broker (own sync copy, typing, undecodable)


class Inbox:
    def __init__(self, *, cursor: str, settled: tuple[str, ...] = ()) -> None:
        self.cursor = cursor
        self._order: OrderedDict[str, None] = OrderedDict()  # fetched, oldest first
        self._waiting: dict[str, Message] = {}
        self.waiting_bytes = 0  # text and files of the frames waiting for their ack
        # Settled hashes, so a mailbox answered again in full (the cursor's message expired,
        # as a 20 s typing indicator does) is not forwarded again.
        self._settled: OrderedDict[str, None] = OrderedDict.fromkeys(settled)

    def add(self, item: Fetched) -> bool:
        """Take a fetched message; return True when it must be sent to the broker."""
        if self.known(item.hash):
            return False
        self._order[item.hash] = None
        if item.frame is None:
            self._advance()
            return False
        self._waiting[item.hash] = item.frame
        self.waiting_bytes += _size(item.frame)
        return True

    def settle(self, msg_hash: str) -> bool:
        """Mark ``msg_hash`` acked; return True when the cursor moved."""
        frame = self._waiting.pop(msg_hash, None)
        if frame is None:
            return False
        self.waiting_bytes -= _size(frame)
        return self._advance()

    def known(self, msg_hash: str) -> bool:
        """Fetched before: waiting for its ack, or settled. Safe to ask from another thread."""
        return msg_hash in self._order or msg_hash in self._settled

    def frame(self, msg_hash: str) -> Message | None:
        return self._waiting.get(msg_hash)

    def waiting(self) -> list[Message]:
        """Frames without an ack yet, oldest first (resent after a reconnect)."""
        return [self._waiting[h] for h in self._order if h in self._waiting]

    def settled_recent(self, count: int) -> tuple[str, ...]:
        return tuple(list(self._settled)[-count:])

    def __len__(self) -> int:
        return len(self._waiting)

    def _advance(self) -> bool:
        moved = False
        while self._order and next(iter(self._order)) not in self._waiting:
            self.cursor = self._order.popitem(last=False)[0]
            self._settled[self.cursor] = None
            if len(self._settled) > SETTLED_KEPT:
                self._settled.popitem(last=False)
            moved = True
        return moved
