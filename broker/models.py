"""Inbound and outbound Session messages (the durable record) and the bridge's status."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from plugins import adminlabels
from plugins.models import Invocation


class InboundMessage(models.Model):
    class Status(models.TextChoices):
        ACCEPTED = "accepted", _("accepted")
        ROUTED = "routed", _("routed to a plugin")
        ANSWERED = "answered", _("answered by the broker")
        IGNORED = "ignored", _("ignored")

    bot = models.ForeignKey("bots.Bot", verbose_name=_("bot"), on_delete=models.CASCADE, related_name="inbound")
    message_id = models.CharField(_("Session message hash"), max_length=128)
    sender = models.CharField(verbose_name=_("sender"), max_length=66)
    conversation = models.CharField(verbose_name=_("conversation"), max_length=80)
    conversation_type = models.CharField(
        verbose_name=_("conversation type"), max_length=8, choices=adminlabels.CONVERSATION_TYPES
    )
    timestamp = models.BigIntegerField(verbose_name=_("timestamp"), help_text=_("ms since the epoch, as sent"))
    text = models.TextField(verbose_name=_("text"), blank=True)
    author_name = models.CharField(verbose_name=_("author name"), max_length=100, blank=True)
    attachments = models.JSONField(
        verbose_name=_("attachments"), default=list, blank=True, help_text=_("metadata; contents kept in data/")
    )
    reply_to = models.JSONField(verbose_name=_("reply to"), null=True, blank=True)
    status = models.CharField(
        verbose_name=_("status"), max_length=8, choices=Status.choices, default=Status.ACCEPTED, db_index=True
    )
    invocation = models.OneToOneField(
        Invocation,
        verbose_name=_("invocation"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inbound_message",
    )
    # Indexed for the admin's list and the /metrics window.
    received_at = models.DateTimeField(verbose_name=_("received at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")
        ordering = ["-received_at"]
        # A group message reaches every bot in the group under the same hash.
        constraints = [models.UniqueConstraint(fields=["bot", "message_id"], name="unique_message_per_bot")]

    def __str__(self) -> str:
        return _("%(message)s from %(sender)s…") % {"message": self.message_id[:12], "sender": self.sender[:10]}


class OutboundMessage(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    ref = models.CharField(verbose_name=_("reference"), max_length=100, unique=True)
    bot = models.ForeignKey("bots.Bot", verbose_name=_("bot"), on_delete=models.CASCADE, related_name="outbound")
    to = models.CharField(verbose_name=_("recipient"), max_length=80)
    text = models.TextField(verbose_name=_("text"), blank=True)
    attachments = models.JSONField(verbose_name=_("attachments"), default=list, blank=True)
    reply_to = models.JSONField(verbose_name=_("reply to"), null=True, blank=True)
    invocation = models.ForeignKey(
        Invocation,
        verbose_name=_("invocation"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="outbound_messages",
    )
    part = models.PositiveIntegerField(verbose_name=_("part"), default=1)
    parts = models.PositiveIntegerField(verbose_name=_("parts"), default=1)
    status = models.CharField(
        verbose_name=_("status"), max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)
    next_attempt_at = models.DateTimeField(verbose_name=_("next attempt at"), default=timezone.now)
    attempts = models.PositiveIntegerField(verbose_name=_("attempts"), default=0)
    sent_at = models.DateTimeField(verbose_name=_("sent at"), null=True, blank=True)
    session_hash = models.CharField(verbose_name=_("Session message hash"), max_length=128, blank=True)
    session_timestamp = models.BigIntegerField(verbose_name=_("Session timestamp"), null=True, blank=True)
    last_error = models.TextField(verbose_name=_("last error"), blank=True)

    class Meta:
        verbose_name = _("outbound message")
        verbose_name_plural = _("outbound messages")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["status", "id"]),
            models.Index(fields=["bot", "status", "id"]),
            # The dashboard counts the sends confirmed in its last hours.
            models.Index(fields=["status", "sent_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.ref} → {self.to[:10]}… [{self.get_status_display()}]"


class BridgeStatus(models.Model):
    bot_id = models.CharField(_("bot Session ID"), max_length=66, unique=True)
    client = models.CharField(verbose_name=_("client"), max_length=200, blank=True)
    connected = models.BooleanField(verbose_name=_("connected"), default=False)
    connected_at = models.DateTimeField(verbose_name=_("connected at"), null=True, blank=True)
    last_seen = models.DateTimeField(verbose_name=_("last seen"), null=True, blank=True)
    status = models.JSONField(
        verbose_name=_("status"), default=dict, blank=True, help_text=_("the latest status frame")
    )
    # The lease of the one live connection (broker.bridgelease): whose it is and until when.
    instance = models.CharField(verbose_name=_("bridge instance"), max_length=64, blank=True)
    epoch = models.PositiveBigIntegerField(verbose_name=_("connection epoch"), default=0)
    lease_until = models.DateTimeField(verbose_name=_("lease until"), null=True, blank=True)

    class Meta:
        verbose_name = _("bridge status")
        verbose_name_plural = _("bridge status")

    def __str__(self) -> str:
        return self.bot_id


class ActivityHour(models.Model):
    """What one bot and one plugin did in one hour: counts and a reply latency histogram.

    Kept by ``broker.activity`` so that the dashboard reads a week in a few thousand rows
    instead of every message. Counts only: no message, user or text.
    """

    hour = models.DateTimeField(verbose_name=_("hour"))
    bot = models.ForeignKey("bots.Bot", verbose_name=_("bot"), on_delete=models.CASCADE, related_name="+")
    plugin = models.CharField(verbose_name=_("plugin"), max_length=64, blank=True)
    messages_in = models.PositiveIntegerField(verbose_name=_("messages received"), default=0)
    messages_out = models.PositiveIntegerField(verbose_name=_("reply parts sent"), default=0)
    invocations = models.PositiveIntegerField(verbose_name=_("invocations"), default=0)
    finished = models.PositiveIntegerField(verbose_name=_("finished"), default=0)
    faults = models.PositiveIntegerField(verbose_name=_("faults"), default=0)
    latency = models.JSONField(verbose_name=_("reply latency buckets"), default=list)

    class Meta:
        verbose_name = _("activity hour")
        verbose_name_plural = _("activity hours")
        constraints = [models.UniqueConstraint(fields=["hour", "bot", "plugin"], name="unique_activity_hour")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00} {self.bot_id} {self.plugin}"


class ActivityRollup(models.Model):
    """How far the hourly rollup has gone: every hour before ``rolled_until`` is counted."""

    rolled_until = models.DateTimeField(verbose_name=_("rolled up until"), null=True, blank=True)
    rolled_at = models.DateTimeField(verbose_name=_("rolled up at"), null=True, blank=True)

    class Meta:
        verbose_name = _("activity rollup")
        verbose_name_plural = _("activity rollup")

    def __str__(self) -> str:
        return f"until {self.rolled_until}"
