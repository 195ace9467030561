"""A bot's bridge and messages on its admin page (registered in ``bots.panels`` by broker/admin.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from bots.models import Bot
from bots.panels import Rows
from broker.models import BridgeStatus, InboundMessage, OutboundMessage
from broker.statusrules import age_text, poll_age_seconds

WINDOW = timedelta(hours=24)


def counts_text(recent: int, total: int) -> str:
    """``recent`` in the last 24 hours and ``total`` in all, in one cell."""
    return _("%(recent)d in 24 h · %(total)d in all") % {"recent": recent, "total": total}


def _ago(moment: datetime | None, now: datetime) -> str:
    return age_text((now - moment).total_seconds()) if moment else "-"


def last_poll_text(bridge: BridgeStatus, now: datetime) -> str:
    return age_text(poll_age_seconds(bridge.status, last_seen=bridge.last_seen, now=now))


def errors_text(status: dict[str, Any]) -> str:
    errors = status.get("errors")
    if not isinstance(errors, dict) or not errors:
        return "-"
    return ", ".join(f"{name} {count}" for name, count in sorted(errors.items()))


def _bridge_state(bridge: BridgeStatus | None, now: datetime) -> str:
    if bridge is None:
        return _("never connected")
    if bridge.connected:
        return _("connected for %(age)s") % {"age": _ago(bridge.connected_at, now)}
    return _("disconnected for %(age)s") % {"age": _ago(bridge.last_seen, now)}


def bridge_rows(bot: Bot) -> Rows:
    """Whether the bot's bridge is connected, its last poll and the error counters it sent."""
    now = timezone.now()
    bridge = BridgeStatus.objects.filter(bot_id=bot.session_id).first()
    rows = [(_("Bridge"), _bridge_state(bridge, now))]
    if bridge is not None:
        rows += [
            (_("Last seen"), _("%(age)s ago") % {"age": _ago(bridge.last_seen, now)}),
            (_("Last poll"), _("%(age)s ago") % {"age": last_poll_text(bridge, now)}),
            (_("Bridge errors"), errors_text(bridge.status)),
        ]
    return rows


def message_rows(bot: Bot) -> Rows:
    """Messages received, replies sent, sends failed and pending, in 24 hours and in all."""
    since = timezone.now() - WINDOW
    inbound = InboundMessage.objects.filter(bot=bot).aggregate(
        total=Count("pk"), recent=Count("pk", filter=Q(received_at__gte=since))
    )
    sent, failed, pending = OutboundMessage.Status.SENT, OutboundMessage.Status.FAILED, OutboundMessage.Status.PENDING
    outbound = OutboundMessage.objects.filter(bot=bot).aggregate(
        sent=Count("pk", filter=Q(status=sent)),
        sent_recent=Count("pk", filter=Q(status=sent, created_at__gte=since)),
        failed=Count("pk", filter=Q(status=failed)),
        failed_recent=Count("pk", filter=Q(status=failed, created_at__gte=since)),
        pending=Count("pk", filter=Q(status=pending)),
    )
    return [
        (_("Messages received"), counts_text(inbound["recent"], inbound["total"])),
        (_("Replies sent"), counts_text(outbound["sent_recent"], outbound["sent"])),
        (_("Sends failed"), counts_text(outbound["failed_recent"], outbound["failed"])),
        (_("Sends pending"), str(outbound["pending"])),
    ]


def bots_column(bots: Sequence[Bot]) -> dict[int, str]:
    """Each bot's bridge state and its last 24 hours, for the bots list: three queries a page."""
    now, since = timezone.now(), timezone.now() - WINDOW
    pks = [bot.pk for bot in bots]
    bridges = {row.bot_id: row for row in BridgeStatus.objects.filter(bot_id__in=[bot.session_id for bot in bots])}
    received = dict(
        InboundMessage.objects.filter(bot__in=pks, received_at__gte=since)
        .values_list("bot")
        .annotate(n=Count("pk"))
        .values_list("bot", "n")
    )
    failed = dict(
        OutboundMessage.objects.filter(bot__in=pks, status=OutboundMessage.Status.FAILED, created_at__gte=since)
        .values_list("bot")
        .annotate(n=Count("pk"))
        .values_list("bot", "n")
    )
    found = {}
    for bot in bots:
        parts = [_bridge_state(bridges.get(bot.session_id), now)]
        parts.append(_("%(count)d received in 24 h") % {"count": received.get(bot.pk, 0)})
        if failed.get(bot.pk):
            parts.append(_("%(count)d sends failed in 24 h") % {"count": failed[bot.pk]})
        found[bot.pk] = " · ".join(parts)
    return found
