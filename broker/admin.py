"""The admin for the durable message record and the bridge's health: all read-only."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from broker.models import BridgeStatus, InboundMessage, OutboundMessage
from plugins.admin import ReadOnlyAdmin


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ["message_id", "sender", "conversation_type", "status", "short_text", "received_at"]
    list_filter = ["status", "conversation_type"]
    search_fields = ["message_id", "sender", "conversation", "text", "author_name"]
    date_hierarchy = "received_at"

    @admin.display(description=_("text"))
    def short_text(self, obj: InboundMessage) -> str:
        return obj.text if len(obj.text) <= 60 else obj.text[:59] + "…"


@admin.register(OutboundMessage)
class OutboundMessageAdmin(ReadOnlyAdmin):
    list_display = ["ref", "to", "status", "part", "parts", "attempts", "created_at", "sent_at"]
    list_filter = ["status"]
    search_fields = ["ref", "to", "text", "session_hash", "last_error"]
    date_hierarchy = "created_at"


@admin.register(BridgeStatus)
class BridgeStatusAdmin(ReadOnlyAdmin):
    list_display = ["bot_id", "client", "connected", "connected_at", "last_seen"]
    list_filter = ["connected"]
    search_fields = ["bot_id", "client"]
