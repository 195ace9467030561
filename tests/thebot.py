"""The bot that tests' rows belong to: the Session ID their bridges say hello with."""

from __future__ import annotations

from bots.models import Bot

BOT_SESSION_ID = "05" + "b0" * 32


def the_bot() -> Bot:
    """The bot of ``BOT_SESSION_ID`` (a bridge's first hello registers the same one)."""
    bot = Bot.objects.filter(session_id=BOT_SESSION_ID).first()
    return bot or Bot.objects.create(name="tests", session_id=BOT_SESSION_ID)


async def athe_bot() -> Bot:
    """:func:`the_bot` from async code."""
    bot = await Bot.objects.filter(session_id=BOT_SESSION_ID).afirst()
    return bot or await Bot.objects.acreate(name="tests", session_id=BOT_SESSION_ID)
