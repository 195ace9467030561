"""The ``/readyz`` check of the bridges: every enabled bot has a bridge holding its lease."""

from __future__ import annotations

from django.utils import timezone

from bots.models import Bot
from broker.models import BridgeStatus
from sessionbot.readyrules import Check, bridge_live, bridges_check


def bridges_ready_check() -> Check:
    now = timezone.now()
    enabled = set(Bot.objects.filter(enabled=True, removed_at__isnull=True).values_list("session_id", flat=True))
    rows = BridgeStatus.objects.filter(bot_id__in=enabled, connected=True).values_list("bot_id", "lease_until")
    live = {bot_id for bot_id, lease_until in rows if bridge_live(connected=True, lease_until=lease_until, now=now)}
    return bridges_check(enabled=len(enabled), live=len(live))
