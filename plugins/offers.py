"""Which plugins a bot offers, and the policies it gives them (``BotPlugin`` rows).

A bot that names no plugin offers every enabled one; one that names some offers those
only. Read for every message, so kept for a second per process. The operator changes them
in the admin (the bot's page and the plugin's) or with ``manage.py plugins offer``,
``withdraw`` and ``offers`` (the service functions at the end).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from bots.models import Bot
from plugins.models import BotPlugin, Plugin, PluginCommand, Policy

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


class OfferError(Exception):
    """An offer cannot be changed; ``str(error)`` says why."""


@dataclass(frozen=True, slots=True)
class Offered:
    plugin: str
    policy: str  # the bot's own policy for it; "": the plugin's
    default_policy: str  # the plugin's
    enabled: bool


def _bot(name: str) -> Bot:
    bot = Bot.objects.filter(name=name, removed_at__isnull=True).first()
    if bot is None:
        raise OfferError(_("No bot is named %(name)s.") % {"name": name})
    return bot


def _plugins(names: list[str]) -> list[Plugin]:
    found = {plugin.name: plugin for plugin in Plugin.objects.filter(name__in=names)}
    missing = [name for name in names if name not in found]
    if missing:
        raise OfferError(_("No plugin is named %(names)s.") % {"names": ", ".join(missing)})
    return [found[name] for name in dict.fromkeys(names)]


def bot_plugins_offer(*, bot: str, plugins: list[str], policy: str | None = None) -> int:
    """Make bot ``bot`` offer ``plugins``, with ``policy`` ("": the plugin's own; None:
    keep what each had); return how many it did not offer before.

    Once a bot names one plugin it offers only the plugins it names.
    """
    if policy is not None and policy and policy not in Policy.values:
        raise OfferError(_("%(policy)s is not a policy (everyone, listed, admins).") % {"policy": policy})
    owner, wanted = _bot(bot), _plugins(plugins)
    added = 0
    with transaction.atomic():
        for plugin in wanted:
            defaults = {"policy": policy} if policy is not None else {}
            _row, created = BotPlugin.objects.update_or_create(bot=owner, plugin=plugin, defaults=defaults)
            added += created
    bot_offers_forget()
    return added


def bot_plugins_withdraw(*, bot: str, plugins: list[str]) -> int:
    """Stop bot ``bot`` offering ``plugins``; return how many it offered.

    A bot left naming no plugin offers every enabled one again.
    """
    owner, unwanted = _bot(bot), _plugins(plugins)
    deleted, _rows = BotPlugin.objects.filter(bot=owner, plugin__in=unwanted).delete()
    bot_offers_forget()
    return deleted


def bot_plugins_list(*, bot: str) -> list[Offered] | None:
    """The plugins bot ``bot`` names, by name; None when it names none (it offers every enabled one)."""
    rows = BotPlugin.objects.filter(bot=_bot(bot)).select_related("plugin").order_by("plugin__name")
    found = [
        Offered(
            plugin=row.plugin.name,
            policy=row.policy,
            default_policy=row.plugin.default_policy,
            enabled=row.plugin.enabled,
        )
        for row in rows
    ]
    return found or None
