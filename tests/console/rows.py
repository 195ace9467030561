"""Messages, invocations and replies at chosen times, for the dashboard and rollup tests."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta

from bots.models import Bot
from broker.activityrules import BUCKETS
from broker.models import ActivityHour, InboundMessage, OutboundMessage
from plugins.models import Invocation, Plugin, PluginVersion

_ids = itertools.count(1)
USER = "05" + "ab" * 32
HOUR = timedelta(hours=1)


def bot_make(name: str) -> Bot:
    return Bot.objects.create(name=name, session_id="05" + f"{len(name):02x}" + name.encode().hex().ljust(62, "0")[:62])


def plugin_make(name: str) -> PluginVersion:
    plugin = Plugin.objects.create(name=name)
    version = PluginVersion.objects.create(plugin=plugin, version="1.0.0", entrypoint=f"x.{name}:P")
    plugin.active_version = version
    plugin.save()
    return version


def exchange(
    *,
    bot: Bot,
    version: PluginVersion | None,
    at: datetime,
    status: str = "ok",
    latency: float | None = 0.2,
    parts: int = 1,
    error: str = "",
) -> Invocation | None:
    """A message stored at ``at``; with a plugin, its invocation and ``parts`` reply parts,
    the first confirmed sent ``latency`` seconds later (None: not sent yet)."""
    n = next(_ids)
    inv = None
    if version is not None:
        inv = Invocation.objects.create(
            key=f"k{n}",
            bot=bot,
            plugin_version=version,
            command=version.plugin.name,
            conversation=USER,
            status=status,
            queued_at=at,
            error=error,
        )
    InboundMessage.objects.create(
        bot=bot,
        message_id=f"m{n}",
        sender=USER,
        conversation=USER,
        conversation_type="private",
        timestamp=0,
        status="routed" if inv else "ignored",
        invocation=inv,
        received_at=at,
    )
    if inv is not None:
        for part in range(1, parts + 1):
            sent = latency is not None
            OutboundMessage.objects.create(
                ref=f"{inv.pk}:{part}",
                bot=bot,
                to=USER,
                invocation=inv,
                part=part,
                parts=parts,
                status="sent" if sent else "pending",
                created_at=at,
                sent_at=at + timedelta(seconds=latency + part - 1) if latency is not None else None,
            )
    return inv


def stored_week(bots: list[Bot], plugins: list[str], *, now: datetime, seed: int = 16) -> list[ActivityHour]:
    """A week of stored hours with random counts and latency buckets, as the rollup writes them."""
    rng = random.Random(seed)
    current = now.replace(minute=0, second=0, microsecond=0)
    rows = [
        ActivityHour(
            hour=current - ago * HOUR,
            bot=bot,
            plugin=plugin,
            messages_in=rng.randrange(50),
            messages_out=rng.randrange(50),
            invocations=rng.randrange(50),
            finished=rng.randrange(40),
            faults=rng.randrange(5),
            latency=[rng.randrange(9) for _ in range(BUCKETS)],
        )
        for bot in bots
        for plugin in plugins
        for ago in range(2, 7 * 24)
    ]
    ActivityHour.objects.bulk_create(rows)
    return rows
