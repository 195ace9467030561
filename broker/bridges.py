"""What the broker knows about the connected bridge, kept for health checks and the admin."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from bots.live import bot_of_bridge
from broker.models import BridgeStatus

CLOSE_BOT_DISABLED = 4403

# A status frame may be 16 MiB; the admin and the metrics need a few small health fields.
MAX_STATUS_BYTES = 16_384
MAX_STATUS_FIELD_BYTES = 1_024


@dataclass(frozen=True, slots=True)
class Connected:
    """A bridge's hello, recorded."""

    connected_at: datetime  # marks this connection: its close clears only its own hello
    another_open: bool  # the record said another connection of the bot was open
    bot: int = 0  # the bot's key
    refused: str = ""  # why the hello is refused ("": served), in plain words
    refused_code: str = ""  # the error frame's code
    close_code: int = 0  # and the WebSocket's


def bridge_connected(*, bot_id: str, client: str) -> Connected:
    """Record that the bridge of ``bot_id`` said hello, unless its bot is disabled."""
    bot = bot_of_bridge(bot_id)
    if not bot.enabled:
        return Connected(
            connected_at=timezone.now(),
            another_open=False,
            bot=bot.pk,
            refused=f"the bot {bot.name} is disabled (manage.py bots enable {bot.name})",
            refused_code="bot_disabled",
            close_code=CLOSE_BOT_DISABLED,
        )
    now = timezone.now()
    with transaction.atomic():
        before = BridgeStatus.objects.select_for_update().filter(bot_id=bot_id).values_list("connected", flat=True)
        another_open = any(before)
        BridgeStatus.objects.update_or_create(
            bot_id=bot_id, defaults={"client": client[:200], "connected": True, "connected_at": now, "last_seen": now}
        )
    return Connected(connected_at=now, another_open=another_open, bot=bot.pk)


def bridge_disconnected(*, bot_id: str, connected_at: datetime) -> None:
    """Record that the connection whose hello was at ``connected_at`` closed.

    A bridge that reconnects says hello on its new connection before the broker sees the
    old one close (a half-open TCP connection closes only at its timeout): that late close
    must not mark the bridge disconnected, or health checks report it down while it runs.
    """
    now = timezone.now()
    BridgeStatus.objects.filter(bot_id=bot_id, connected_at=connected_at).update(connected=False, last_seen=now)


def bridge_status_store(*, bot_id: str, fields: dict[str, Any]) -> None:
    """Keep the latest ``status`` frame of the bridge (its free health fields)."""
    kept: dict[str, Any] = {}
    used = dropped = 0
    for key, value in fields.items():
        if key == "type":
            continue
        size = len(key) + len(json.dumps(value, ensure_ascii=False))
        if size > MAX_STATUS_FIELD_BYTES or used + size > MAX_STATUS_BYTES - 64:
            dropped += 1
            continue
        kept[key], used = value, used + size + 4
    if dropped:
        kept["dropped_fields"] = dropped  # say so: a health field may be missing
    BridgeStatus.objects.filter(bot_id=bot_id).update(status=kept, last_seen=timezone.now())
