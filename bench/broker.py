"""Benchmark the broker end to end: ``python -m bench.broker``.

Starts a real ``runbroker --no-bridge`` (uvicorn and a Celery worker) per mode, embedded
(SQLite, filesystem queue) and, when reachable, PostgreSQL with Redis. A simulated bridge
sends ``/ping`` from many users over one connection and answers every ``send`` with
``sent``, as a bridge does. Reported per mode:

- sustained messages per second (a window of unanswered messages kept full),
- p50/p99 latency from ``message`` to its ``send`` at a paced 100 messages per second
  (``BENCH_PACED_RATE`` to change it), and from ``message`` to its ``ack``,
- the CPU time the server, the worker, the bench itself and (services) PostgreSQL and
  Redis spent per message in the sustained run,
- the bare Celery round trip (enqueue a no-op task, see it run) measured in the same run,
- the resident memory of the idle server and worker.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
BOT = "05" + "b0" * 32
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sessionbot_broker")
PACED_RATE = float(os.environ.get("BENCH_PACED_RATE", "100"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def reachable(url: str, default_port: int) -> bool:
    from urllib.parse import urlparse

    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def mode_env(mode: str, data: Path, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    config = data / "config.yaml"
    config.write_text("rate_limit:\n  messages: 100000\n  window_seconds: 10\n")
    env.update(DATA_DIR=str(data), LOG_LEVEL="WARNING", SESSIONBOT_CONFIG=str(config), BRIDGE_TOKEN=token)
    env["PYTHONPATH"] = str(ROOT)
    if mode == "services":
        env.update(DATABASE_URL=PG_URL, REDIS_URL=REDIS_URL, SECRET_KEY="bench-" + "k" * 40)
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def probe_round_trips(n: int) -> list[float]:
    """Run inside the mode's environment (``--probe``): time ``delay()`` until the task ran."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sessionbot.settings")
    django.setup()
    from django.conf import settings

    from broker.tasks import broker_probe_task

    folder = settings.DATA_DIR / "probes"
    samples = []
    for _ in range(n):
        name = uuid.uuid4().hex
        start = time.perf_counter()
        broker_probe_task.delay(name)
        while not (folder / name).exists():
            time.sleep(0.0002)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


class Bridge:
    """One simulated bridge connection; records when each message's first send arrives."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.sent_at: dict[str, float] = {}
        self.latency: dict[str, float] = {}
        self.acked: dict[str, float] = {}  # message → its ack, ms
        self.done = asyncio.Event()
        self.expect = 0
        self.pushes: collections.Counter[str] = collections.Counter()  # sends per ref, the whole run

    async def reader(self) -> None:
        async for raw in self.ws:
            frame = json.loads(raw)
            if frame["type"] == "ack" and frame.get("id") in self.sent_at:
                self.acked[frame["id"]] = (time.perf_counter() - self.sent_at[frame["id"]]) * 1000
            if frame["type"] != "send":
                continue
            self.pushes[frame["ref"]] += 1
            mid = (frame.get("reply_to") or {}).get("id", "")
            if mid in self.sent_at and mid not in self.latency:
                self.latency[mid] = (time.perf_counter() - self.sent_at[mid]) * 1000
            await self.ws.send(json.dumps({"type": "sent", "ref": frame["ref"], "hash": frame["ref"], "timestamp": 0}))
            if len(self.latency) >= self.expect:
                self.done.set()

    async def message(self, user: int) -> None:
        mid = uuid.uuid4().hex
        sender = f"05{user:064x}"
        frame: dict[str, Any] = {"type": "message", "id": mid, "from": sender, "conversation": sender}
        frame.update(conversation_type="private", timestamp=int(time.time() * 1000), text="/ping")
        self.sent_at[mid] = time.perf_counter()
        await self.ws.send(json.dumps(frame))


def cpu_seconds(procs: dict[str, list[psutil.Process]]) -> dict[str, float]:
    """CPU time (user + system) used so far by each named group of processes."""
    totals: dict[str, float] = {}
    for name, group in procs.items():
        total = 0.0
        for proc in group:
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        totals[name] = total
    return totals


def process_groups(server: subprocess.Popen[bytes], mode: str) -> dict[str, list[psutil.Process]]:
    """The processes whose CPU the sustained run is charged with: server, worker, client, services."""
    root = psutil.Process(server.pid)
    groups: dict[str, list[psutil.Process]] = {"server": [root], "worker": root.children(recursive=True)}
    groups["bench client"] = [psutil.Process()]
    if mode == "services":
        names = {"postgres": "postgres", "redis-server": "redis"}
        for proc in psutil.process_iter(["name"]):
            group = names.get(proc.info["name"] or "")
            if group:
                groups.setdefault(group, []).append(proc)
    return groups


async def drive(
    port: int,
    token: str,
    *,
    messages: int,
    users: int,
    window: int,
    procs: Callable[[], dict[str, list[psutil.Process]]],
) -> dict[str, Any]:
    url = f"ws://127.0.0.1:{port}/ws/bridge/"
    async with connect(
        url, additional_headers={"Authorization": f"Bearer {token}"}, max_size=None, compression=None
    ) as ws:
        await ws.send(json.dumps({"type": "hello", "protocol": 1, "bot_id": BOT, "client": "bench"}))
        assert json.loads(await ws.recv())["type"] == "welcome"
        bridge = Bridge(ws)
        reader = asyncio.create_task(bridge.reader())
        # Warm-up, then paced latency at 100 msg/s, then the sustained run.
        for phase, count, rate in (("warmup", 100, 100.0), ("paced", 500, PACED_RATE), ("sustained", messages, 0.0)):
            bridge.sent_at, bridge.latency, bridge.acked, bridge.expect = {}, {}, {}, count
            bridge.done.clear()
            groups = procs()  # now: the database connections exist since the warm-up
            cpu_before = cpu_seconds(groups)
            start = time.perf_counter()
            for i in range(count):
                if rate:
                    await asyncio.sleep(max(start + i / rate - time.perf_counter(), 0))
                while len(bridge.sent_at) - len(bridge.latency) >= window:
                    await asyncio.sleep(0.001)
                await bridge.message(i % users)
            await asyncio.wait_for(bridge.done.wait(), timeout=300)
            elapsed = time.perf_counter() - start
            values = list(bridge.latency.values())
            if phase == "paced":
                paced = {
                    "p50": pct(values, 50),
                    "p99": pct(values, 99),
                    "ack_p50": pct(list(bridge.acked.values()), 50),
                }
            elif phase == "sustained":
                sustained: dict[str, Any] = {"rate": count / elapsed, "p50": pct(values, 50), "p99": pct(values, 99)}
                sustained["ack_p50"] = pct(list(bridge.acked.values()), 50)
                cpu_after = cpu_seconds(groups)
                sustained["cpu_ms"] = {k: (cpu_after[k] - cpu_before[k]) * 1000 / count for k in cpu_after}
        reader.cancel()
    # One connection, every send answered: a ref pushed twice is a double push.
    sustained["twice"] = sum(1 for count in bridge.pushes.values() if count > 1)
    return {"paced": paced, "sustained": sustained}


def server_wait(port: int) -> None:
    """Wait until the server listens on ``port`` (a minute at most), then for its worker."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    time.sleep(2)  # let the worker come up


def celery_round_trips(env: dict[str, str], count: int) -> list[float]:
    """``count`` bare Celery round trips (ms), timed by a process of the mode's environment."""
    probe = subprocess.run(
        [sys.executable, "-m", "bench.broker", "--probe", str(count)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return [float(ms) for ms in json.loads(probe.stdout.strip().splitlines()[-1])]


def tree_rss_mb(proc: subprocess.Popen[bytes]) -> float:
    root = psutil.Process(proc.pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20


def run_mode(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix=f"bench-broker-{mode}-"))
    token = secrets.token_hex(32)
    env = mode_env(mode, data, token)
    if mode == "services":
        manage(env, "migrate", "--noinput")
        manage(env, "flush", "--noinput")
    else:
        manage(env, "migrate", "--noinput")
    manage(env, "importplugins", str(ROOT / "data" / "plugins.yaml"))
    port = free_port()
    argv = [sys.executable, "manage.py", "runbroker", "--no-bridge", "--host", "127.0.0.1", "--port", str(port)]
    if args.workers:
        argv += ["--workers", str(args.workers)]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL if not args.verbose else None)
    try:
        server_wait(port)
        result = asyncio.run(
            drive(
                port,
                token,
                messages=args.messages,
                users=args.users,
                window=args.window,
                procs=lambda: process_groups(proc, mode),
            )
        )
        result["celery_p50"] = pct(celery_round_trips(env, args.probes), 50)
        time.sleep(5)
        result["idle_rss_mb"] = tree_rss_mb(proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    return result


def speed_probe() -> float:
    """Seconds this machine takes, now, for a fixed pure-Python loop (best of three).

    The same code's results move with the machine's speed (here it varied by a factor of
    two or more between days): the probe lets runs on different days be compared.
    """
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        sum(i * i for i in range(3_000_000))
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=3000, help="messages in the sustained run")
    parser.add_argument("--users", type=int, default=500, help="simulated users")
    parser.add_argument("--window", type=int, default=300, help="unanswered messages at most")
    parser.add_argument("--probes", type=int, default=300, help="bare Celery round trips")
    parser.add_argument("--workers", type=int, default=0, help="worker threads (default: runbroker's)")
    parser.add_argument("--mode", choices=["embedded", "services", "both"], default="both")
    parser.add_argument("--probe", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--verbose", action="store_true", help="show the server's output")
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe_round_trips(args.probe)))
        return
    modes = ["embedded", "services"] if args.mode == "both" else [args.mode]
    print(f"machine speed probe: {speed_probe() * 1000:.0f} ms for a fixed Python loop (lower is faster)\n")
    print(
        "| mode | sustained msg/s | p50 / p99 ms (sustained) "
        f"| p50 / p99 ms ({PACED_RATE:g} msg/s) | bare Celery p50 ms | p50 ÷ Celery | idle RSS MB |"
    )
    print("|---|---|---|---|---|---|---|")
    for mode in modes:
        if mode == "services" and not (reachable(PG_URL, 5432) and reachable(REDIS_URL, 6379)):
            print(f"| {mode} | skipped: PostgreSQL or Redis not reachable | | | | | |")
            continue
        r = run_mode(mode, args)
        s, p = r["sustained"], r["paced"]
        print(
            f"| {mode} | {s['rate']:.0f} | {s['p50']:.1f} / {s['p99']:.1f} | {p['p50']:.1f} / {p['p99']:.1f} "
            f"| {r['celery_p50']:.1f} | {p['p50'] / r['celery_p50']:.1f}x | {r['idle_rss_mb']:.0f} |",
            flush=True,
        )
        acks = f"message → ack p50 {p['ack_p50']:.1f} ms paced, {s['ack_p50']:.1f} ms sustained"
        print(f"|   | {acks}; refs pushed twice: {s['twice']} | | | | | |", flush=True)
        cpu = ", ".join(f"{name} {ms:.2f}" for name, ms in s["cpu_ms"].items())
        print(f"|   | CPU ms per message (sustained): {cpu} | | | | | |", flush=True)


if __name__ == "__main__":
    main()
