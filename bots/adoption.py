"""The bot that a deployment's history belongs to when it gains bots (used by migrations).

An install from before bots has messages, users and invocations of one identity: today's
``SESSION_MNEMONIC`` or ``data/session_mnemonic``, or, behind an external bridge, the
Session ID its bridge said hello with. That identity becomes the bot "main", and every row
of the history is given to it, with no step by hand.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection

from bridge.identity import IdentityError, mnemonic_check, mnemonic_load, session_id_of
from sessionbot import sealing

FIRST_BOT = "main"
_BRIDGE_STATUS_TABLE = "broker_bridgestatus"


def history_bot_id(apps: Any, *, has_history: bool) -> int | None:
    """The first bot's key; made from today's identity when there is no bot and
    ``has_history``; None when there is neither a bot nor a history."""
    bot_model = apps.get_model("bots", "Bot")
    first = bot_model.objects.order_by("created_at", "pk").first()
    if first is not None:
        return int(first.pk)
    if not has_history:
        return None
    session_id, words = _identity_known()
    bot = bot_model.objects.create(name=FIRST_BOT, session_id=session_id, display_name=settings.CLIENT_NAME[:64])
    keys = str(getattr(settings, "PLUGIN_SECRETS_KEY", "") or "")
    if words and keys:
        sealed = sealing.seal(words, keys=keys, purpose=sealing.BOT_IDENTITIES)
        apps.get_model("bots", "BotKey").objects.create(bot=bot, key_sealed=sealed)
    return int(bot.pk)


def todays_words() -> str:
    """Today's identity as configured (``SESSION_MNEMONIC``, else ``data/session_mnemonic``);
    "" when neither is set or it cannot be read as a mnemonic. Nothing is generated."""
    given = settings.SESSION_MNEMONIC.strip()
    path = settings.DATA_DIR / "session_mnemonic"
    try:
        if given:
            return mnemonic_check(given, source="SESSION_MNEMONIC")
        if path.exists():
            return mnemonic_check(path.read_text(encoding="utf-8"), source=str(path))
    except (IdentityError, OSError, UnicodeError):
        pass
    return ""


def _identity_known() -> tuple[str, str]:
    """(Session ID, words) of today's identity; words "" when only an external bridge knew it."""
    words = todays_words()
    if words:
        return session_id_of(words), words
    bridged = _bridged_session_id()  # an unreadable or absent identity: the bridges' records may name the bot
    if bridged:
        return bridged, ""
    words = mnemonic_load(env_value="", path=settings.DATA_DIR / "session_mnemonic")  # as the bridge's first start
    return session_id_of(words), words


def _bridged_session_id() -> str:
    """The Session ID the last bridge said hello with, if the broker's table records one."""
    if _BRIDGE_STATUS_TABLE not in connection.introspection.table_names():
        return ""
    table = connection.ops.quote_name(_BRIDGE_STATUS_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT bot_id FROM {table} ORDER BY last_seen DESC LIMIT 1")  # noqa: S608
        row = cursor.fetchone()
    return str(row[0]) if row else ""
