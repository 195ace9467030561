"""A bridge's free-form ``status`` frame cannot fill the database or the admin page.

Each status frame replaces the stored one; a frame may be up to 16 MiB, so without a cap a
misbehaving bridge writes 16 MiB per frame and the admin renders it.
"""

from __future__ import annotations

import json

import pytest

from broker.bridges import bridge_connected, bridge_status_store
from broker.models import BridgeStatus

BOT = "05" + "b0" * 32


@pytest.mark.django_db
def test_a_huge_status_frame_is_stored_small_and_says_so() -> None:
    bridge_connected(bot_id=BOT, client="test")
    bridge_status_store(bot_id=BOT, fields={"type": "status", "polling": True, "junk": "x" * 5_000_000})
    status = BridgeStatus.objects.get(bot_id=BOT).status
    assert len(json.dumps(status)) <= 16_384
    assert status["polling"] is True  # the small, useful fields are kept


@pytest.mark.django_db
def test_an_ordinary_status_frame_is_kept_whole() -> None:
    bridge_connected(bot_id=BOT, client="test")
    fields = {"polling": True, "last_poll_ms": 120, "errors": {"poll": 1, "send": 0}}
    bridge_status_store(bot_id=BOT, fields={"type": "status", **fields})
    assert BridgeStatus.objects.get(bot_id=BOT).status == fields
