"""The admin for the durable message record and the bridge's health (all read-only), and
what a bot's page shows of them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.contrib import admin
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from bots.panels import panel_register
from broker import botpanel
from broker.models import BridgeStatus, InboundMessage, OutboundMessage
from plugins import adminlabels
from plugins.admin import ReadOnlyAdmin


def _epoch_ms_text(ms: int | None) -> str:
    """A time Session gave in ms since the epoch, in the operator's time zone."""
    if ms is None:
        return "-"
    return date_format(timezone.localtime(datetime.fromtimestamp(ms / 1000, tz=UTC)), "DATETIME_FORMAT")


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ["message_id", "bot", "sender", "conversation_type", "status", "short_text", "received_at"]
    # The sender's clock, stored as epoch ms, is shown as a time in the operator's zone.
    exclude = ["timestamp"]
    readonly_fields = ["sent_at"]
    list_filter = ["bot", "status", "conversation_type"]
    list_select_related = ["bot"]
    search_fields = ["message_id", "sender", "conversation", "text", "author_name"]
    date_hierarchy = "received_at"

    @admin.display(description=_("text"))
    def short_text(self, obj: InboundMessage) -> str:
        return obj.text if len(obj.text) <= 60 else obj.text[:59] + "…"

    @admin.display(description=_("sent at (sender's clock)"), ordering="timestamp")
    def sent_at(self, obj: InboundMessage) -> str:
        return _epoch_ms_text(obj.timestamp)


@admin.register(OutboundMessage)
class OutboundMessageAdmin(ReadOnlyAdmin):
    list_display = ["ref", "bot", "to", "status", "part", "parts", "attempts", "created_at", "sent_at"]
    list_filter = ["bot", "status"]
    list_select_related = ["bot"]
    search_fields = ["ref", "to", "text", "session_hash", "last_error"]
    date_hierarchy = "created_at"
    exclude = ["session_timestamp"]  # epoch ms, shown as a time instead
    readonly_fields = ["session_time"]

    @admin.display(description=_("Session timestamp"), ordering="session_timestamp")
    def session_time(self, obj: OutboundMessage) -> str:
        return _epoch_ms_text(obj.session_timestamp)


def _flag(status: dict[str, Any], key: str) -> bool | None:
    value = status.get(key)
    return value if isinstance(value, bool) else None


def _count(status: dict[str, Any], key: str) -> str:
    value = status.get(key)
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else "-"


@admin.register(BridgeStatus)
class BridgeStatusAdmin(ReadOnlyAdmin):
    """The bridge's latest status frame, field by field (never the raw JSON)."""

    list_display = ["bot_id", "client", "connected", "connected_at", "last_seen", "last_poll", "bridge_errors"]
    list_filter = ["connected"]
    search_fields = ["bot_id", "client"]
    fields = [
        "bot_id",
        "client",
        ("connected", "connected_at", "last_seen"),
        ("polling", "session_reachable", "last_poll"),
        ("awaiting_ack", "queued_sends"),
        "bridge_errors",
        "network",
        ("instance", "epoch", "lease_until"),
    ]
    readonly_fields = ["polling", "session_reachable", "last_poll", "awaiting_ack", "queued_sends", "bridge_errors"]
    readonly_fields += ["network"]

    @admin.display(description=_("last poll"))
    def last_poll(self, obj: BridgeStatus) -> str:
        age = botpanel.last_poll_text(obj, timezone.now())
        return "-" if age == "-" else str(_("%(age)s ago") % {"age": age})

    @admin.display(description=_("errors"))
    def bridge_errors(self, obj: BridgeStatus) -> str:
        return botpanel.errors_text(obj.status)

    @admin.display(description=_("polling"), boolean=True)
    def polling(self, obj: BridgeStatus) -> bool | None:
        return _flag(obj.status, "polling")

    @admin.display(description=_("Session network reachable"), boolean=True)
    def session_reachable(self, obj: BridgeStatus) -> bool | None:
        return _flag(obj.status, "session_reachable")

    @admin.display(description=_("messages awaiting the broker's ack"))
    def awaiting_ack(self, obj: BridgeStatus) -> str:
        return _count(obj.status, "awaiting_ack")

    @admin.display(description=_("replies queued to send"))
    def queued_sends(self, obj: BridgeStatus) -> str:
        return _count(obj.status, "queued_sends")

    @admin.display(description=_("network"))
    def network(self, obj: BridgeStatus) -> str:
        return adminlabels.code_label(adminlabels.NETWORKS, obj.status.get("network"))


panel_register(key="broker.bridge", title=_("Bridge"), rows=botpanel.bridge_rows, column=botpanel.bots_column, order=10)
panel_register(key="broker.messages", title=_("Messages"), rows=botpanel.message_rows, order=20)
