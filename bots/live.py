"""A bot as the message path sees it: its Session ID and its settings over config.yaml.

Every message and every plugin run asks for its bot, so the answer is kept for a second
per process: an operator's change in the admin reaches routing within a second, with no
query per message.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.signals import setting_changed
from django.db import IntegrityError, transaction
from django.dispatch import receiver

from bots.models import Bot
from sessionbot.botconfig import BotConfig, ConfigError, bot_config_apply

log = logging.getLogger(__name__)

TTL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class LiveBot:
    pk: int
    name: str
    session_id: str
    enabled: bool
    config: BotConfig


_cache: dict[int, tuple[float, LiveBot]] = {}
_lock = threading.Lock()


def _live(bot: Bot) -> LiveBot:
    try:
        config = bot_config_apply(base=settings.BOT_CONFIG, overrides=bot.settings)
    except ConfigError as exc:
        # Checked when saved; config.yaml may have changed under it since. The bot keeps
        # answering on config.yaml's values and the operator is told which setting is wrong.
        log.error("the settings of bot %s are ignored until fixed: %s", bot.name, exc)
        config = settings.BOT_CONFIG
    return LiveBot(pk=bot.pk, name=bot.name, session_id=bot.session_id, enabled=bot.enabled, config=config)


def live_bot(pk: int) -> LiveBot:
    """The bot ``pk`` as read within the last second (Bot.DoesNotExist when it is gone)."""
    now = time.monotonic()
    hit = _cache.get(pk)
    if hit is not None and hit[0] > now:
        return hit[1]
    found = _live(Bot.objects.get(pk=pk))
    with _lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[pk] = (now + TTL_SECONDS, found)
    return found


def live_bot_forget() -> None:
    """Read every bot again at its next use (a test's or a save's change)."""
    with _lock:
        _cache.clear()


@receiver(setting_changed)
def _config_changed(*, setting: str, **_: object) -> None:
    if setting == "BOT_CONFIG":  # every bot's settings lie over it
        live_bot_forget()


def bot_config(pk: int) -> BotConfig:
    """The settings bot ``pk`` runs on: config.yaml with its own on top."""
    return live_bot(pk).config


def _unknown_name(session_id: str) -> str:
    return "bridge-" + re.sub(r"[^0-9a-f]", "", session_id[2:])[:12]


def bot_of_bridge(session_id: str) -> LiveBot:
    """The bot whose bridge said hello as ``session_id``.

    A bridge run apart from the broker (another program, or ``runbroker --no-bridge``)
    holds an identity the database may not know: its bot is registered on its first
    hello, enabled, with no stored identity, and can be renamed, set up or disabled in the
    admin. Only a holder of BRIDGE_TOKEN gets this far.
    """
    bot = Bot.objects.filter(session_id=session_id).first()
    if bot is None:
        name = _unknown_name(session_id)
        try:
            with transaction.atomic():
                bot = Bot.objects.create(name=name, session_id=session_id)
            log.warning(
                "a bridge said hello as %s, which no bot has: registered it as the bot %r "
                "(rename it, set it up or disable it in the admin)",
                session_id,
                name,
            )
        except IntegrityError:  # another connection registered it at the same moment
            bot = Bot.objects.get(session_id=session_id)
    found = _live(bot)
    with _lock:
        _cache[bot.pk] = (time.monotonic() + TTL_SECONDS, found)
    return found
