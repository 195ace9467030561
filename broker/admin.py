"""The admin for the durable message record and the bridge's health (all read-only), and
what a bot's page shows of them."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from bots.panels import panel_register
from broker import botpanel
from broker.models import BridgeStatus, InboundMessage, OutboundMessage
from plugins.admin import ReadOnlyAdmin


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ["message_id", "bot", "sender", "conversation_type", "status", "short_text", "received_at"]
    list_filter = ["bot", "status", "conversation_type"]
    list_select_related = ["bot"]
    search_fields = ["message_id", "sender", "conversation", "text", "author_name"]
    date_hierarchy = "received_at"

    @admin.display(description=_("text"))
    def short_text(self, obj: InboundMessage) -> str:
        return obj.text if len(obj.text) <= 60 else obj.text[:59] + "…"


@admin.register(OutboundMessage)
class OutboundMessageAdmin(ReadOnlyAdmin):
    list_display = ["ref", "bot", "to", "status", "part", "parts", "attempts", "created_at", "sent_at"]
    list_filter = ["bot", "status"]
    list_select_related = ["bot"]
    search_fields = ["ref", "to", "text", "session_hash", "last_error"]
    date_hierarchy = "created_at"


@admin.register(BridgeStatus)
class BridgeStatusAdmin(ReadOnlyAdmin):
    list_display = ["bot_id", "client", "connected", "connected_at", "last_seen"]
    list_filter = ["connected"]
    search_fields = ["bot_id", "client"]


panel_register(key="broker.bridge", title=_("Bridge"), rows=botpanel.bridge_rows, column=botpanel.bots_column, order=10)
panel_register(key="broker.messages", title=_("Messages"), rows=botpanel.message_rows, order=20)
