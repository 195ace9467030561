"""What the broker knows about the connected bridge, kept for health checks and the admin."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from bots.live import LiveBot, bot_of_bridge
from bridgeprotocol.frames import CLOSE_BOT_NOT_SERVED
from broker.bridgelease import LEASE_SECONDS, Holder, lease_takes
from broker.models import BridgeStatus

# A status frame may be 16 MiB; the admin and the metrics need a few small health fields.
MAX_STATUS_BYTES = 16_384
MAX_STATUS_FIELD_BYTES = 1_024


@dataclass(frozen=True, slots=True)
class Connected:
    """A bridge's hello, recorded (or refused: another connection holds the bot's lease)."""

    connected_at: datetime  # marks this connection: its close clears only its own hello
    another_open: bool  # the record said another connection of the bot was open
    bot: int = 0  # the bot's key
    epoch: int = 0  # the lease this connection holds now (broker.bridgelease); 0 when refused
    refused: bool = False  # another connection of the bot holds a live lease
    denied: str = ""  # why the bot is not served (disabled, removed) in plain words; "" when it is
    denied_code: str = ""  # the error frame's code for it
    close_code: int = 0  # and the WebSocket's


def _denied(bot: LiveBot) -> Connected | None:
    """The answer to the hello of a bot that is not served, or None when it is."""
    if bot.removed:
        reason = (
            f"the bot {bot.name} was removed with its identity; to serve it again, add it "
            "(manage.py bots add NAME --mnemonic-stdin) or purge the removed bot (manage.py bots remove "
            f"{bot.session_id} --purge)"
        )
        code = "bot_removed"
    elif not bot.enabled:
        reason, code = f"the bot {bot.name} is disabled (manage.py bots enable {bot.name})", "bot_disabled"
    else:
        return None
    now = timezone.now()
    return Connected(
        connected_at=now,
        another_open=False,
        bot=bot.pk,
        denied=reason,
        denied_code=code,
        close_code=CLOSE_BOT_NOT_SERVED,
    )


def bridge_connected(
    *, bot_id: str, client: str, instance: str | None = None, held_epoch: int | None = None
) -> Connected:
    """Record that the bridge of ``bot_id`` said hello, if its bot is served (enabled, not
    removed) and the hello takes the bot's lease.

    ``instance`` is the bridge's own ID from its hello (none from bridges that send none);
    ``held_epoch`` the lease the connection holds already (a second hello on it).
    """
    bot = bot_of_bridge(bot_id)
    denied = _denied(bot)
    if denied is not None:
        return denied
    BridgeStatus.objects.get_or_create(bot_id=bot_id)  # the row to lock, made once (races included)
    now = timezone.now()
    with transaction.atomic():
        row = BridgeStatus.objects.select_for_update().get(bot_id=bot_id)
        holder = Holder(instance=row.instance, epoch=row.epoch, lease_until=row.lease_until)
        if not lease_takes(holder, instance=instance, held_epoch=held_epoch, now=now):
            return Connected(connected_at=now, another_open=True, bot=bot.pk, refused=True)
        another_open = row.connected
        row.client, row.connected, row.connected_at, row.last_seen = client[:200], True, now, now
        row.instance, row.epoch = instance or "", row.epoch + 1
        row.lease_until = now + timedelta(seconds=LEASE_SECONDS)
        row.save(update_fields=["client", "connected", "connected_at", "last_seen", "instance", "epoch", "lease_until"])
    return Connected(connected_at=now, another_open=another_open, bot=bot.pk, epoch=row.epoch)


def bridge_lease_renew(*, bot_id: str, epoch: int) -> bool:
    """Renew the lease of the connection that took it at ``epoch``; false if another took it since."""
    now = timezone.now()
    renewed = BridgeStatus.objects.filter(bot_id=bot_id, epoch=epoch).update(
        lease_until=now + timedelta(seconds=LEASE_SECONDS), last_seen=now
    )
    return renewed == 1


def bridge_disconnected(*, bot_id: str, connected_at: datetime, epoch: int | None = None) -> None:
    """Record that the connection whose hello was at ``connected_at`` (that took the lease
    at ``epoch``) closed, and let its lease go.

    A bridge that reconnects says hello on its new connection before the broker sees the
    old one close (a half-open TCP connection closes only at its timeout): that late close
    must not mark the bridge disconnected, or health checks report it down while it runs,
    nor let the new connection's lease go.
    """
    now = timezone.now()
    mine = {"epoch": epoch} if epoch else {"connected_at": connected_at}
    BridgeStatus.objects.filter(bot_id=bot_id, **mine).update(connected=False, last_seen=now, lease_until=None)


def bridge_status_store(*, bot_id: str, fields: dict[str, Any]) -> None:
    """Keep the latest ``status`` frame of the bridge (its free health fields)."""
    kept: dict[str, Any] = {}
    used = dropped = 0
    for key, value in fields.items():
        if key == "type":
            continue
        size = len(key) + len(json.dumps(value, ensure_ascii=False))
        if size > MAX_STATUS_FIELD_BYTES or used + size > MAX_STATUS_BYTES - 64:
            dropped += 1
            continue
        kept[key], used = value, used + size + 4
    if dropped:
        kept["dropped_fields"] = dropped  # say so: a health field may be missing
    BridgeStatus.objects.filter(bot_id=bot_id).update(status=kept, last_seen=timezone.now())
