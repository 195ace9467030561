"""A small bot's history in the database, built through the models, for the metrics and status tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import count

from django.utils import timezone

from broker.models import BridgeStatus, InboundMessage, OutboundMessage
from plugins.models import BotUser, Invocation, Plugin, PluginVersion
from tests.thebot import the_bot

USER = "05" + "c3" * 32
BOT = "05" + "b0" * 32
SECRET_TEXT = "my doctor said the test came back positive"
_keys = count(1)


@dataclass
class Bot:
    now: datetime
    user: BotUser
    ping: PluginVersion
    weather: PluginVersion


def plugin_install(name: str, *, enabled: bool = True, version: str = "1.0.0") -> PluginVersion:
    plugin = Plugin.objects.create(name=name, enabled=enabled, load_state="loaded")
    row = PluginVersion.objects.create(plugin=plugin, version=version, entrypoint=f"{name}:Plugin")
    plugin.active_version = row
    plugin.save()
    return row


def invocation_add(
    bot: Bot, version: PluginVersion | None, status: str, *, ms: float | None = None, ago: timedelta = timedelta(0)
) -> Invocation:
    queued = bot.now - ago - timedelta(seconds=1)
    finished = status in Invocation.FINISHED
    return Invocation.objects.create(
        bot=the_bot(),
        key=f"k{next(_keys)}",
        user=bot.user,
        plugin_version=version,
        command="cmd",
        arguments=SECRET_TEXT,
        conversation=USER,
        status=status,
        queued_at=queued,
        started_at=queued if status != "queued" else None,
        finished_at=queued + timedelta(milliseconds=ms or 0) if finished else None,
        duration_ms=ms,
    )


def message_add(bot: Bot, status: str, *, invocation: Invocation | None = None, reply_after: float | None = None):
    received = bot.now - timedelta(seconds=30)
    message = InboundMessage.objects.create(
        bot=the_bot(),
        message_id=f"m{next(_keys)}",
        sender=USER,
        conversation=USER,
        conversation_type="private",
        timestamp=int(received.timestamp() * 1000),
        text=SECRET_TEXT,
        status=status,
        invocation=invocation,
        received_at=received,
    )
    if invocation is not None and reply_after is not None:
        # Two parts: the latency counts to the first one the bridge confirmed.
        for part, extra in ((1, 0.0), (2, 5.0)):
            OutboundMessage.objects.create(
                bot=the_bot(),
                ref=f"inv{invocation.pk}-{part}",
                to=USER,
                text=SECRET_TEXT,
                invocation=invocation,
                part=part,
                parts=2,
                status=OutboundMessage.Status.SENT,
                sent_at=received + timedelta(seconds=reply_after + extra),
            )
    return message


def send_add(bot: Bot, status: str, *, ago: timedelta = timedelta(0)) -> OutboundMessage:
    return OutboundMessage.objects.create(
        bot=the_bot(), ref=f"s{next(_keys)}", to=USER, text=SECRET_TEXT, status=status, created_at=bot.now - ago
    )


def bridge_add(*, connected: bool, last_seen: datetime, status: dict | None = None) -> BridgeStatus:
    return BridgeStatus.objects.create(
        bot_id=BOT,
        client="session-python/1.0.5",
        connected=connected,
        connected_at=last_seen - timedelta(minutes=10),
        last_seen=last_seen,
        status=status or {},
    )


def bot_build() -> Bot:
    """Two plugins (ping enabled, weather disabled) and one user; no history yet."""
    return Bot(
        now=timezone.now(),
        user=BotUser.objects.create(bot=the_bot(), session_id=USER, display_name="Alice"),
        ping=plugin_install("ping"),
        weather=plugin_install("weather", enabled=False, version="2.1.0"),
    )
