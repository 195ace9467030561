"""Use every client of ``REDIS_URL`` once and print what worked: ``python -m tests.redis_probe``.

Run in a subprocess with the environment under test (a password, TLS): the channel layer,
the cache, the rate limiter's own client and Celery's broker connection.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sessionbot.settings")
django.setup()

from channels.layers import get_channel_layer  # noqa: E402
from django.core.cache import cache  # noqa: E402

from broker.ratelimit import Verdict, rate_limit_check_many  # noqa: E402
from sessionbot.celery import app  # noqa: E402


async def layer_round_trip() -> bool:
    layer = get_channel_layer()
    assert layer is not None
    name = await layer.new_channel()
    await layer.group_add("probe", name)
    await asyncio.sleep(0.2)  # the subscription is in place
    await layer.group_send("probe", {"type": "probe.ping", "n": 1})
    got = await asyncio.wait_for(layer.receive(name), 10)
    return bool(got["n"] == 1)


def broker_round_trip() -> bool:
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
        queue = conn.SimpleQueue(f"probe-{uuid.uuid4().hex}")
        try:
            queue.put({"x": 1})
            message = queue.get(timeout=10)
            message.ack()
            return bool(message.payload == {"x": 1})
        finally:
            queue.close()


def main() -> None:
    key = f"probe-{uuid.uuid4().hex}"
    cache.set(key, "v", 30)
    result = {
        "channel_layer": asyncio.run(layer_round_trip()),
        "cache": cache.get(key) == "v",
        "rate_limiter": rate_limit_check_many(user_keys=[key]) == [Verdict.OK],
        "celery_broker": broker_round_trip(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
