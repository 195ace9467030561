"""One row of every model the admin lists, so that each change page has something to show."""

from __future__ import annotations

from datetime import timedelta

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import Group, User
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from broker.models import BridgeStatus, InboundMessage, OutboundMessage
from plugins.models import (
    BotGroup,
    BotUser,
    InstallJob,
    Invocation,
    PermissionGrant,
    Plugin,
    PluginCommand,
    PluginSecret,
    PluginVersion,
    QueueWorker,
)
from tests.thebot import BOT_SESSION_ID, the_bot

USER = "05" + "c3" * 32
# The seeded names, and codes the pages show as they are (a language code, a bridge's error
# counter, a config.yaml key): data, the same in every language.
DATA_WORDS = frozenset(
    {
        "helper",
        "ping",
        "pong",
        "ops",
        "root",
        "alice",
        "operators",
        "tests",
        "phone",
        "backup",
        "es",
        "poll",
        "languages",
    }
)


def admin_rows_seed() -> None:
    """A bot with a user, a group, a plugin, its runs, messages and bridge, and the logins' rows."""
    now = timezone.now()
    bot = the_bot()
    bot.display_name = "helper"
    bot.save()
    user = BotUser.objects.create(bot=bot, session_id=USER, display_name="alice", language="es")
    group = BotGroup.objects.create(name="operators", description="ops")
    group.members.add(user)
    plugin = Plugin.objects.create(name="ping", load_state="loaded", health_status="ok", last_success_at=now)
    version = PluginVersion.objects.create(plugin=plugin, version="1.0.0", entrypoint="ping:Plugin")
    plugin.active_version = version
    plugin.save()
    PluginCommand.objects.create(version=version, name="ping", summary="pong")
    PermissionGrant.objects.create(plugin=plugin, user=user, bot=bot)
    PluginSecret.objects.create(plugin=plugin, key="PING_TOKEN", ciphertext="sealed")
    QueueWorker.objects.create(queue="celery", worker="celery@ops")
    InstallJob.objects.create(source="ping", name="ping", state=InstallJob.State.SUCCEEDED)
    invocation = Invocation.objects.create(
        bot=bot,
        key="seed-1",
        user=user,
        plugin_version=version,
        command="ping",
        conversation=USER,
        status=Invocation.Status.OK,
        started_at=now - timedelta(seconds=1),
        finished_at=now,
        duration_ms=571.4279996027471,
        attempts=1,
    )
    InboundMessage.objects.create(
        bot=bot,
        message_id="d1" * 32,
        sender=USER,
        conversation=USER,
        conversation_type="private",
        timestamp=int(now.timestamp() * 1000),
        text="/ping",
        status=InboundMessage.Status.ROUTED,
        invocation=invocation,
    )
    OutboundMessage.objects.create(
        ref="seed-1:1",
        bot=bot,
        to=USER,
        text="pong",
        invocation=invocation,
        status=OutboundMessage.Status.SENT,
        sent_at=now,
        session_timestamp=1_767_225_600_000,  # 2026-01-01 00:00 UTC
    )
    status: dict[str, object] = {
        "polling": True,
        "session_reachable": True,
        "last_poll_at": int(now.timestamp() * 1000) - 3000,
    }
    status |= {"awaiting_ack": 0, "queued_sends": 1, "errors": {"poll": 2}, "network": "local test network"}
    BridgeStatus.objects.create(
        bot_id=BOT_SESSION_ID,
        client="sessionbot-bridge",
        connected=True,
        connected_at=now,
        last_seen=now,
        status=status,
    )
    Group.objects.create(name="operators")
    ops = User.objects.create_user("ops", "ops@example.org", "not used")
    TOTPDevice.objects.create(user=ops, name="phone")
    StaticDevice.objects.create(user=ops, name="backup")
    seen = {"user_agent": "Chromium", "ip_address": "10.0.0.1", "username": "ops", "http_accept": "*/*"}
    AccessAttempt.objects.create(**seen, path_info="/admin/login/", get_data="", post_data="", failures_since_start=1)
    AccessLog.objects.create(**seen, path_info="/admin/login/")
    AccessFailureLog.objects.create(**seen, path_info="/admin/login/")
