"""Which conversations wait for a command that is still being worked on (typing indicators).

The same rule as the recovery sweep's (``plugins.liveness``): an invocation queued or
running that is not lost is being worked on, so the bot shows it is typing there until the
command answers, and stops for one whose worker died.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from plugins.execution import version_limits
from plugins.liveness import Thresholds, invocation_lost
from plugins.models import Invocation

WORKING_LIMIT = 500


def conversations_working(*, bot: int, now: datetime | None = None) -> list[str]:
    """The conversations (Session or group IDs) where bot ``bot`` works on a command, each once."""
    now = now or timezone.now()
    recovery = settings.BOT_CONFIG.recovery
    thresholds = Thresholds(recovery.queued_after_seconds, recovery.running_margin_seconds)
    unfinished = (
        Invocation.objects.filter(
            bot_id=bot, status__in=[Invocation.Status.QUEUED, Invocation.Status.RUNNING], inbound_message__isnull=False
        )
        .exclude(conversation="")
        .select_related("plugin_version")
        .order_by("queued_at")[:WORKING_LIMIT]
    )
    found: dict[str, None] = {}
    for inv in unfinished:
        if inv.plugin_version is None:
            continue
        lost = invocation_lost(
            status=inv.status,
            queued_at=inv.queued_at,
            started_at=inv.started_at,
            now=now,
            timeout_seconds=version_limits(version=inv.plugin_version).timeout_seconds,
            thresholds=thresholds,
        )
        if not lost:
            found[inv.conversation] = None
    return list(found)
