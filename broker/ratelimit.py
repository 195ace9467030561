"""Per-user rate limit on Django's cache (Redis when REDIS_URL is set, so processes share it)."""

from __future__ import annotations

import enum
import time

from django.conf import settings
from django.core.cache import cache


class Verdict(enum.Enum):
    OK = "ok"
    WARN = "warn"  # the first message over the limit in this window: say "slow down" once
    DROP = "drop"


def rate_limit_check(*, user_key: str, now: float | None = None) -> Verdict:
    """Count one message of ``user_key`` in the current fixed window and judge it."""
    limit = settings.BOT_CONFIG.rate_limit
    moment = time.time() if now is None else now
    window = int(moment // limit.window_seconds)
    key = f"sessionbot:rate:{user_key}:{window}"
    ttl = int(limit.window_seconds) + 2
    try:
        count = cache.incr(key)  # one round trip for every message but a window's first
    except ValueError:
        count = 1 if cache.add(key, 1, timeout=ttl) else cache.incr(key)
    if count <= limit.messages:
        return Verdict.OK
    return Verdict.WARN if count == limit.messages + 1 else Verdict.DROP
