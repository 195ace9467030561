"""Which plugins a bot offers, and the policies it gives them (``BotPlugin`` rows).

A bot that names no plugin offers every enabled one; one that names some offers those
only. Read for every message, so kept for a second per process.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from plugins.models import BotPlugin, Plugin, PluginCommand

TTL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Offers:
    plugins: frozenset[int] | None  # the plugins offered; None: every enabled one
    policies: dict[int, str] = field(default_factory=dict)  # plugin → the bot's policy for it


_cache: dict[int, tuple[float, Offers]] = {}
_lock = threading.Lock()


def bot_offers(*, bot: int) -> Offers:
    """What bot ``bot`` offers, as read within the last second."""
    now = time.monotonic()
    hit = _cache.get(bot)
    if hit is not None and hit[0] > now:
        return hit[1]
    rows = list(BotPlugin.objects.filter(bot_id=bot).values_list("plugin_id", "policy"))
    found = Offers(
        plugins=frozenset(plugin for plugin, _ in rows) if rows else None,
        policies={plugin: policy for plugin, policy in rows if policy},
    )
    with _lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[bot] = (now + TTL_SECONDS, found)
    return found


def bot_offers_forget() -> None:
    with _lock:
        _cache.clear()


def bot_offers_plugin(*, bot: int, plugin: int) -> bool:
    offered = bot_offers(bot=bot).plugins
    return offered is None or plugin in offered


def policy_of(*, bot: int, plugin: Plugin, command: PluginCommand | None) -> str:
    """The policy that decides when no grant does: the bot's for the plugin, else the
    command's, else the plugin's default."""
    own = bot_offers(bot=bot).policies.get(plugin.pk, "")
    return own or (command.policy if command is not None and command.policy else "") or plugin.default_policy
