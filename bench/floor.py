"""The fixed parts of a message's path on PostgreSQL + Redis: ``python -m bench.floor``.

Times, alone and 20 ms apart (as the benchmark's paced run sends messages, so every
process waits idle in between), what a ``/ping`` cannot do without, whatever our code
around it costs:

- a WebSocket round trip through the consumer (a frame it refuses at once: no database);
- PostgreSQL round trips: ``SELECT 1``, and an ``INSERT`` committed durably (what the
  ``ack`` promises) and relaxed (the worker's claim and finish);
- a Redis ``PUBLISH`` until its subscriber has it (the doorbell);
- the bare Celery round trip (``bench.broker``'s probe), on a real ``runbroker --no-bridge``.

Their sum, with the database and Redis steps a ``/ping`` takes, is the least its p50 could
be with no Python work at all: the number to hold against three times the Celery round trip.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import redis
from websockets.asyncio.client import connect

from bench.broker import (
    PG_URL,
    REDIS_URL,
    ROOT,
    celery_round_trips,
    free_port,
    manage,
    mode_env,
    reachable,
    server_wait,
)

GAP_SECONDS = 0.02
SAMPLES = 300


def p50(step: Callable[[], object]) -> float:
    times = []
    for _ in range(SAMPLES):
        time.sleep(GAP_SECONDS)
        started = time.perf_counter()
        step()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def postgres() -> dict[str, float]:
    with psycopg.connect(PG_URL.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_floor (id serial PRIMARY KEY, v int)")
        try:
            times = {"select 1": p50(lambda: conn.execute("SELECT 1").fetchone())}
            for mode in ("on", "off"):
                conn.execute(f"SET synchronous_commit TO {mode}")
                insert = p50(lambda: conn.execute("INSERT INTO bench_floor (v) VALUES (1)"))
                times["insert, durable commit" if mode == "on" else "insert, relaxed commit"] = insert
        finally:
            conn.execute("DROP TABLE bench_floor")
    return times


def redis_publish() -> float:
    client = redis.Redis.from_url(REDIS_URL)
    subscriber = client.pubsub()
    channel = f"bench-floor-{secrets.token_hex(4)}"
    subscriber.subscribe(channel)
    subscriber.get_message(timeout=1)  # the subscription's confirmation
    got = threading.Event()

    def listen() -> None:
        for item in subscriber.listen():
            if item["type"] == "message":
                if item["data"] == b"stop":
                    return
                got.set()

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()

    def ring() -> None:
        got.clear()
        client.publish(channel, b"ring")
        got.wait(timeout=1)

    try:
        return p50(ring)
    finally:
        client.publish(channel, b"stop")
        listener.join(timeout=2)
        subscriber.close()


async def websocket(port: int, token: str) -> float:
    async with connect(
        f"ws://127.0.0.1:{port}/ws/bridge/", additional_headers={"Authorization": f"Bearer {token}"}, compression=None
    ) as ws:
        times = []
        for _ in range(SAMPLES):
            await asyncio.sleep(GAP_SECONDS)
            started = time.perf_counter()
            await ws.send("{}")  # no type: an error frame back, nothing stored
            json.loads(await ws.recv())
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)


def server_measures() -> tuple[float, float]:
    """The WebSocket round trip and the bare Celery round trip, on a real ``runbroker``."""
    data = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    token = secrets.token_hex(32)
    env = mode_env("services", data, token)
    manage(env, "migrate", "--noinput")
    port = free_port()
    argv = [sys.executable, "manage.py", "runbroker", "--no-bridge", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        server_wait(port)
        ws = asyncio.run(websocket(port, token))
        celery = statistics.median(celery_round_trips(env, 300))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    return ws, celery


def main() -> None:
    if not (reachable(PG_URL, 5432) and reachable(REDIS_URL, 6379)):
        print("skipped: PostgreSQL or Redis not reachable")
        return
    pg = postgres()
    ring = redis_publish()
    ws, celery = server_measures()
    print(f"each alone, {GAP_SECONDS * 1000:.0f} ms apart, p50 of {SAMPLES}:\n")
    print("| step | p50 ms |\n|---|---|")
    print(f"| WebSocket round trip through the consumer | {ws:.2f} |")
    for name, value in pg.items():
        print(f"| PostgreSQL {name} | {value:.2f} |")
    print(f"| Redis PUBLISH until the subscriber has it | {ring:.2f} |")
    print(f"| bare Celery round trip | {celery:.2f} |")
    # A /ping: in and out over the WebSocket; the accept's read and its durable write;
    # the Celery task; the worker's claim and finish (relaxed); the doorbell.
    floor = ws + pg["select 1"] + pg["insert, durable commit"] + celery + 2 * pg["insert, relaxed commit"] + ring
    print(f"\nfloor of a /ping (those steps, no Python work of ours): {floor:.2f} ms")
    leanest = floor - pg["select 1"] - pg["insert, relaxed commit"]  # no read before the write, no separate claim
    print(f"without the accept's read and with the claim folded into the finish: {leanest:.2f} ms")
    print(f"3 times the bare Celery round trip: {3 * celery:.2f} ms")


if __name__ == "__main__":
    main()
