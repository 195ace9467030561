"""Inbound and outbound Session messages (the durable record) and the bridge's status."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from plugins.models import Invocation


class InboundMessage(models.Model):
    class Status(models.TextChoices):
        ACCEPTED = "accepted", _("accepted")
        ROUTED = "routed", _("routed to a plugin")
        ANSWERED = "answered", _("answered by the broker")
        IGNORED = "ignored", _("ignored")

    message_id = models.CharField(_("Session message hash"), max_length=128, unique=True)
    sender = models.CharField(max_length=66)
    conversation = models.CharField(max_length=80)
    conversation_type = models.CharField(max_length=8)
    timestamp = models.BigIntegerField(help_text=_("ms since the epoch, as sent"))
    text = models.TextField(blank=True)
    author_name = models.CharField(max_length=100, blank=True)
    attachments = models.JSONField(default=list, blank=True, help_text=_("metadata; contents kept in data/"))
    reply_to = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACCEPTED, db_index=True)
    invocation = models.OneToOneField(
        Invocation, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_message"
    )
    received_at = models.DateTimeField(default=timezone.now, db_index=True)  # admin list, /metrics window

    class Meta:
        verbose_name = _("inbound message")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.message_id[:12]} from {self.sender[:10]}…"


class OutboundMessage(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    ref = models.CharField(max_length=100, unique=True)
    to = models.CharField(max_length=80)
    text = models.TextField(blank=True)
    attachments = models.JSONField(default=list, blank=True)
    reply_to = models.JSONField(null=True, blank=True)
    invocation = models.ForeignKey(
        Invocation, null=True, blank=True, on_delete=models.SET_NULL, related_name="outbound_messages"
    )
    part = models.PositiveIntegerField(default=1)
    parts = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    session_hash = models.CharField(max_length=128, blank=True)
    session_timestamp = models.BigIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("outbound message")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "id"])]

    def __str__(self) -> str:
        return f"{self.ref} → {self.to[:10]}… [{self.status}]"


class BridgeStatus(models.Model):
    bot_id = models.CharField(_("bot Session ID"), max_length=66, unique=True)
    client = models.CharField(max_length=200, blank=True)
    connected = models.BooleanField(default=False)
    connected_at = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    status = models.JSONField(default=dict, blank=True, help_text=_("the latest status frame"))

    class Meta:
        verbose_name = _("bridge status")
        verbose_name_plural = _("bridge status")

    def __str__(self) -> str:
        return self.bot_id
