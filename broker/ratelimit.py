"""Per-user rate limit on Django's cache (Redis when REDIS_URL is set, so processes share it)."""

from __future__ import annotations

import enum
import functools
import time
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.dispatch import receiver

from sessionbot.botconfig import RateLimit


class Verdict(enum.Enum):
    OK = "ok"
    WARN = "warn"  # the first message over the limit in this window: say "slow down" once
    DROP = "drop"


def _key(user_key: str, moment: float, limit: RateLimit) -> str:
    window = int(moment // limit.window_seconds)
    return f"sessionbot:rate:{user_key}:{window}"


def _ttl(limit: RateLimit) -> int:
    return int(limit.window_seconds) + 2


def _verdict(count: int, limit: RateLimit) -> Verdict:
    if count <= limit.messages:
        return Verdict.OK
    return Verdict.WARN if count == limit.messages + 1 else Verdict.DROP


def rate_limit_check(*, user_key: str, now: float | None = None, limit: RateLimit | None = None) -> Verdict:
    """Count one message of ``user_key`` in the current fixed window and judge it by
    ``limit`` (config.yaml's when None)."""
    limit = limit or settings.BOT_CONFIG.rate_limit
    key = _key(user_key, time.time() if now is None else now, limit)
    cache = _shared().cache
    try:
        count = cache.incr(key)  # one round trip for every message but a window's first
    except ValueError:
        count = 1 if cache.add(key, 1, timeout=_ttl(limit)) else cache.incr(key)
    return _verdict(count, limit)


def rate_limit_check_many(
    *, user_keys: list[str], now: float | None = None, limit: RateLimit | None = None
) -> list[Verdict]:
    """``rate_limit_check`` for several messages in order (a key may repeat): on Redis, one
    round trip for all of them."""
    limit = limit or settings.BOT_CONFIG.rate_limit
    moment = time.time() if now is None else now
    cache, client = _shared()
    if client is None:
        return [rate_limit_check(user_key=user_key, now=moment, limit=limit) for user_key in user_keys]
    keys = [cache.make_and_validate_key(_key(user_key, moment, limit)) for user_key in user_keys]
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.set(key, 0, ex=_ttl(limit), nx=True)  # the window's first message creates it, with its lifetime
        pipe.incr(key)
    replies = pipe.execute()
    return [_verdict(int(count), limit) for count in replies[1::2]]


class _Counter(NamedTuple):
    cache: BaseCache
    redis: Any  # the Redis client when the cache is Django's Redis cache, else None


@functools.cache
def _shared() -> _Counter:
    """The default cache, and its Redis client, one of each per process.

    Django's ``caches`` keeps an instance per thread and async context, and the broker
    counts in a fresh context each time (``database_sync_to_async``): through ``caches``
    every batch opened, and dropped, a Redis connection of its own (2 ms of the accept).
    The client is kept too (the cache builds a new one on every call). Both are safe to
    share between threads; the connection pool renews itself after a fork.
    """
    cache = caches.create_connection("default")
    client = cache._cache.get_client(write=True) if isinstance(cache, RedisCache) else None
    return _Counter(cache, client)


@receiver(setting_changed)
def _caches_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "CACHES":  # a test's override_settings: count on the new cache
        _shared.cache_clear()
