"""What a deployment keeps about one chat user, exported or erased across the apps.

A user is a Session ID as one bot knows it. ``bots`` imports neither ``broker`` nor
``plugins``, yet their tables hold the user's messages, invocations and replies: each app
registers here, from its ``AppConfig.ready``, a keeper of its own data:

- ``export(bot, session_id)``: a JSON-serializable dict of what it keeps about the user;
- ``erase(bot, session_id)``: erase it, return the count of rows or files erased by kind.

:func:`userdata_export` and :func:`userdata_erase` call every keeper in order, so that
``/mydata``, ``/forgetme`` and ``manage.py userdata`` can never disagree on what a user is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from bots.models import Bot
from sessionbot.botconfig import SESSION_ID_RE

Export = Callable[[Bot, str], dict[str, Any]]
Erase = Callable[[Bot, str], dict[str, int]]


@dataclass(frozen=True, slots=True)
class Keeper:
    key: str  # registering the same key again replaces the keeper
    export: Export
    erase: Erase
    order: int = 100  # keepers run in this order: one whose erase needs others' rows runs first


_keepers: dict[str, Keeper] = {}


def userdata_register(*, key: str, export: Export, erase: Erase, order: int = 100) -> None:
    """Have ``export`` and ``erase`` cover an app's data about a user (see the module)."""
    _keepers[key] = Keeper(key=key, export=export, erase=erase, order=order)


def _ordered() -> list[Keeper]:
    return sorted(_keepers.values(), key=lambda keeper: keeper.order)


def userdata_export(*, bot: Bot, session_id: str) -> dict[str, Any]:
    """Everything the deployment keeps about ``session_id`` with ``bot``, by keeper."""
    days = settings.BOT_CONFIG.retention.content_days
    found: dict[str, Any] = {"bot": bot.name, "session_id": session_id, "content_days": days}
    for keeper in _ordered():
        found[keeper.key] = keeper.export(bot, session_id)
    return found


def userdata_erase(*, bot: Bot, session_id: str) -> dict[str, int]:
    """Erase what the deployment keeps about ``session_id`` with ``bot``; counts by kind.

    Each keeper commits its own work: what one erased stays erased when a later one fails,
    and running it again finishes the job (every keeper is idempotent).
    """
    counts: dict[str, int] = {}
    for keeper in _ordered():
        for kind, count in keeper.erase(bot, session_id).items():
            counts[kind] = counts.get(kind, 0) + count
    return counts


class UserDataError(Exception):
    """The operator named a bot or a Session ID that does not exist; the message says which."""


def _bots(*, session_id: str, bot_name: str | None) -> list[Bot]:
    """The bots to cover: the one named ``bot_name`` (removed bots too), else every bot."""
    if not SESSION_ID_RE.match(session_id):
        raise UserDataError(_("%(value)s is not a Session ID (66 hex characters starting 05).") % {"value": session_id})
    bots = Bot.objects.order_by("name", "pk")
    if bot_name is not None:
        bots = bots.filter(name=bot_name)
        if not bots.exists():
            raise UserDataError(_("There is no bot named %(name)s.") % {"name": bot_name})
    return list(bots)


def userdata_export_all(*, session_id: str, bot_name: str | None = None) -> dict[str, Any]:
    """What every bot (or the bot ``bot_name``) keeps about ``session_id``, for the operator."""
    bots = _bots(session_id=session_id, bot_name=bot_name)
    return {"session_id": session_id, "bots": [userdata_export(bot=bot, session_id=session_id) for bot in bots]}


def userdata_erase_all(*, session_id: str, bot_name: str | None = None) -> dict[str, dict[str, int]]:
    """Erase what every bot (or the bot ``bot_name``) keeps about ``session_id``; counts by bot."""
    bots = _bots(session_id=session_id, bot_name=bot_name)
    return {bot.name: userdata_erase(bot=bot, session_id=session_id) for bot in bots}
