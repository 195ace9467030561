"""The doorbell's event: which sends were committed, by ref. Pure: no Django, no I/O.

Whoever can publish on the channel layer (anyone who reaches Redis) can ring, so a ring is
only a hint: it names refs, and the consumer pushes only what it then reads from the
outbox as pending. A ring never carries a frame. An event of any other shape is not ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EVENT_TYPE = "outbox.ring"
MAX_REFS = 5_000  # refs in one ring at most; more make it a bare ring ("poll the outbox")
MAX_REF_LENGTH = 100  # as OutboundMessage.ref


@dataclass(frozen=True, slots=True)
class Ring:
    refs: tuple[str, ...]  # committed sends
    poll: bool  # more were committed than one ring names: poll the outbox


def ring_event(*, refs: list[str], poll: bool) -> dict[str, Any]:
    """The channel-layer event for ``refs`` (``poll``: also others, unnamed)."""
    return {"type": EVENT_TYPE, "refs": refs, "poll": poll}


def ring_parse(event: Any) -> Ring | None:
    """The ring in ``event``, or None when it is not one of ours."""
    if not isinstance(event, dict) or event.keys() != {"type", "refs", "poll"} or event["type"] != EVENT_TYPE:
        return None
    refs, poll = event["refs"], event["poll"]
    if not isinstance(poll, bool) or not isinstance(refs, list) or len(refs) > MAX_REFS:
        return None
    if not all(isinstance(ref, str) and 0 < len(ref) <= MAX_REF_LENGTH for ref in refs):
        return None
    return Ring(refs=tuple(refs), poll=poll)
