"""Time the broker's accept alone: ``python -m bench.accept [--mode embedded|services]``.

Stores ``/ping`` messages from 50 known users, one message per call, through
``inbound_accept_many`` (validate, look up, rate-limit count, route, write, send the task)
in this process, with nothing else running, and reports the p50 and p90 of a call
(``--gap 0.05`` waits 50 ms before each, as the paced end-to-end run sends them). It is
the step the end-to-end benchmark (``bench.broker``) cannot separate from the rest.
Services mode uses the benchmark's PostgreSQL database (flushed first) and its own Redis
database, emptied afterwards: no worker runs, so the tasks sent would otherwise wait there.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from bench.broker import ROOT, manage, mode_env
from tests.thebot import the_bot

REDIS_URL = os.environ.get("BENCH_ACCEPT_REDIS_URL", "redis://127.0.0.1:6379/4")
BOT = "05" + "b0" * 32
USERS = ["05" + f"{i:064x}" for i in range(1, 51)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["embedded", "services"], default="services")
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--gap", type=float, default=0.0, help="seconds between messages (0.05: as at 20 msg/s)")
    args = parser.parse_args()
    env = mode_env(args.mode, Path(tempfile.mkdtemp(prefix="bench-accept-")), secrets.token_hex(32))
    if args.mode == "services":
        env["REDIS_URL"] = REDIS_URL
    manage(env, "migrate", "--noinput")
    if args.mode == "services":
        manage(env, "flush", "--noinput")
    manage(env, "importplugins", str(ROOT / "data" / "plugins.yaml"))
    os.environ.update(env, DJANGO_SETTINGS_MODULE="sessionbot.settings")
    import django

    django.setup()
    from bridgeprotocol.frames import Message
    from broker.accept import inbound_accept_many

    def accept_one(index: int) -> float:
        sender = USERS[index % len(USERS)]
        frame: dict[str, object] = {"type": "message", "id": uuid.uuid4().hex, "from": sender}
        frame.update(conversation=sender, conversation_type="private", timestamp=1_700_000_000_000, text="/ping")
        message = Message.model_validate(frame)
        started = time.perf_counter()
        inbound_accept_many(bot=the_bot().pk, messages=[message], bot_id=BOT)
        return (time.perf_counter() - started) * 1000

    try:
        for index in range(100):  # warm-up: users created, caches filled, connections open
            accept_one(index)
        times = []
        for index in range(args.messages):
            time.sleep(args.gap)
            times.append(accept_one(index))
    finally:
        if args.mode == "services":
            import redis

            redis.Redis.from_url(REDIS_URL).flushdb()
    p90 = statistics.quantiles(times, n=10)[8]
    gap = f", {args.gap * 1000:g} ms apart" if args.gap else ""
    print(f"{args.mode}{gap}: accept of one message p50 {statistics.median(times):.2f} ms, p90 {p90:.2f} ms")


if __name__ == "__main__":
    main()
