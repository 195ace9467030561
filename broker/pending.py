"""What this process knows of the outbox and the invocations, shared by its connections.

A broker holding many idle bridges would poll the outbox once a second for each of them,
and read the invocations for typing indicators every few seconds. Most bots have nothing
pending, and one query tells which do: an idle poll of a bot that has no pending send, and
a typing read of a bot with no command under way, are answered from it, without a query
of their own. The answer is at most ``FRESH_SECONDS`` old, counted from when its read
began, so a send committed meanwhile waits at most that long for the next poll.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from channels.db import database_sync_to_async

from broker.models import OutboundMessage
from plugins.models import Invocation

FRESH_SECONDS = 0.5


class BotsWith:
    """The bots for which ``read`` finds something, read at most every ``FRESH_SECONDS``."""

    def __init__(self, read: Callable[[], set[int]], *, fresh_seconds: float = FRESH_SECONDS) -> None:
        self._read = read
        self._fresh = fresh_seconds
        self._bots: set[int] = set()
        self._at: float | None = None  # loop time the last read began
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    async def has(self, bot: int) -> bool:
        loop = asyncio.get_running_loop()
        if self._at is None or loop.time() - self._at > self._fresh:
            lock = self._locks.get(loop)
            if lock is None:  # a lock belongs to its event loop (tests run several)
                self._locks = {held: lock for held, lock in self._locks.items() if not held.is_closed()}
                lock = self._locks[loop] = asyncio.Lock()
            async with lock:  # one read for every connection that asks meanwhile
                if self._at is None or loop.time() - self._at > self._fresh:
                    began = loop.time()
                    self._bots = await database_sync_to_async(self._read)()
                    self._at = began
        return bot in self._bots


def _bots_with_pending_sends() -> set[int]:
    pending = OutboundMessage.objects.filter(status=OutboundMessage.Status.PENDING)
    return set(pending.values_list("bot_id", flat=True).distinct())


def _bots_at_work() -> set[int]:
    unfinished = Invocation.objects.filter(status__in=[Invocation.Status.QUEUED, Invocation.Status.RUNNING])
    return set(unfinished.values_list("bot_id", flat=True).distinct())


pending_sends = BotsWith(_bots_with_pending_sends)
at_work = BotsWith(_bots_at_work)
