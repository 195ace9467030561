"""What the broker knows about the connected bridge, kept for health checks and the admin."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from broker.models import BridgeStatus


def bridge_connected(*, bot_id: str, client: str) -> None:
    """Record that the bridge of ``bot_id`` said hello."""
    now = timezone.now()
    BridgeStatus.objects.update_or_create(
        bot_id=bot_id, defaults={"client": client[:200], "connected": True, "connected_at": now, "last_seen": now}
    )


def bridge_disconnected(*, bot_id: str) -> None:
    BridgeStatus.objects.filter(bot_id=bot_id).update(connected=False, last_seen=timezone.now())


def bridge_status_store(*, bot_id: str, fields: dict[str, Any]) -> None:
    """Keep the latest ``status`` frame of the bridge (its free health fields)."""
    fields = {k: v for k, v in fields.items() if k != "type"}
    BridgeStatus.objects.filter(bot_id=bot_id).update(status=fields, last_seen=timezone.now())
