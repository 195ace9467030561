"""Benchmark: many idle bots in one ``runbridge`` process, on the local test network.

Creates ``--bots`` bots in a fresh database, starts ``manage.py sessiontestnet``, a real
``runbroker --no-bridge`` and one ``runbridge`` serving every bot, waits until each bot's
bridge has said hello, and then lets them idle. It reports the bridge process's resident
memory (peak over the idle time) and its CPU share over the idle time after a warm-up, and
then, after ``--idle`` seconds without a message, the delivery latency of a message to
random bots: from the moment the user's message is stored on the (local) swarm until the
broker holds it in its database. The bots poll at the configured defaults (idle every 5 s).

Run: ``.venv/bin/python -m bench.fleet [--bots 200] [--idle 600] [--samples 5]``
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-fleet-token"
WARMUP_SECONDS = 30.0


class Child:
    """A ``manage.py`` subprocess whose output is collected by a thread."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.lines: list[str] = []
        self.popen = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise SystemExit(f"bench.fleet: timed out waiting for {what}")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    config = data / "config.yaml"
    config.write_text("rate_limit:\n  messages: 100000\n  window_seconds: 10\n")
    env.update(
        DATA_DIR=str(data),
        LOG_LEVEL="WARNING",
        SESSIONBOT_CONFIG=str(config),
        BRIDGE_TOKEN=TOKEN,
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="sessionbot.settings",
    )
    return env


def bots_create(count: int) -> list[str]:
    from session_python import Session

    from bots.services import bot_add

    return [bot_add(name=f"b{i:04d}", words=Session.generate_mnemonic()).session_id for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", type=int, default=200)
    parser.add_argument("--idle", type=float, default=600.0, help="seconds without a message before the samples")
    parser.add_argument("--samples", type=int, default=5, help="messages to random bots after the idle time")
    parser.add_argument("--verbose", action="store_true", help="show the bridge's output at the end")
    args = parser.parse_args()
    if args.idle < WARMUP_SECONDS + 10:
        parser.error(f"--idle must be at least {WARMUP_SECONDS + 10:.0f} s")
    warnings.filterwarnings("ignore")
    data = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    env = environment(data)
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    import django

    django.setup()
    from django.db import close_old_connections
    from session_python import Session

    from bridge.account import SessionAccount
    from bridge.network import network_build
    from broker.models import BridgeStatus, InboundMessage

    started = time.monotonic()
    bot_ids = bots_create(args.bots)
    print(f"{args.bots} bots created in {time.monotonic() - started:.1f} s", flush=True)
    net = Child(env, "sessiontestnet", "--port", "0")
    children = [net]
    try:
        wait(lambda: "listening on" in net.output(), 60, "the test network")
        match = re.search(r"listening on (http://\S+)", net.output())
        assert match is not None
        url = match.group(1)
        env["SESSION_NETWORK_URL"] = url
        port = free_port()
        broker = Child(env, "runbroker", "--host", "127.0.0.1", "--port", str(port), "--no-bridge")
        children.append(broker)
        time.sleep(3)
        bridge = Child(env, "runbridge", "--no-qr", "--broker-url", f"ws://127.0.0.1:{port}/ws/bridge/")
        children.append(bridge)
        started = time.monotonic()

        def all_connected() -> bool:
            close_old_connections()
            return BridgeStatus.objects.filter(connected=True, bot_id__in=bot_ids).count() == args.bots

        wait(all_connected, 300, "every bot's hello")
        connected = time.monotonic()
        print(f"every bot connected {connected - started:.1f} s after runbridge started", flush=True)
        proc, broker_proc = psutil.Process(bridge.popen.pid), psutil.Process(broker.popen.pid)
        time.sleep(WARMUP_SECONDS)
        cpu0, broker_cpu0, t0 = sum(proc.cpu_times()[:2]), sum(broker_proc.cpu_times()[:2]), time.monotonic()
        peak = 0
        while time.monotonic() - connected < args.idle:
            peak = max(peak, proc.memory_info().rss)
            time.sleep(min(5.0, max(0.0, args.idle - (time.monotonic() - connected))))
        peak = max(peak, proc.memory_info().rss)
        cpu1, broker_cpu1, t1 = sum(proc.cpu_times()[:2]), sum(broker_proc.cpu_times()[:2]), time.monotonic()
        threads = proc.num_threads()
        user = SessionAccount(mnemonic=Session.generate_mnemonic(), network=network_build(url))
        latencies = []
        for bot_id in random.sample(bot_ids, args.samples):
            msg_hash = user.send(to=bot_id, text="/ping").hash
            sent = time.monotonic()

            def arrived(h: str = msg_hash) -> bool:
                close_old_connections()
                return InboundMessage.objects.filter(message_id=h).exists()

            wait(arrived, 120, "a message to arrive")
            latencies.append(time.monotonic() - sent)
        print()
        print("| bots | idle s | RSS peak MB | threads | bridge CPU % of a core | broker CPU % | latency s (each) |")
        print("|---:|---:|---:|---:|---:|---:|---|")
        print(
            f"| {args.bots} | {args.idle:.0f} | {peak / 2**20:.0f} | {threads} "
            f"| {100 * (cpu1 - cpu0) / (t1 - t0):.1f} | {100 * (broker_cpu1 - broker_cpu0) / (t1 - t0):.1f} "
            f"| {', '.join(f'{s:.2f}' for s in latencies)} |"
        )
        print(f"(CPU over the {t1 - t0:.0f} s of idle time after a {WARMUP_SECONDS:.0f} s warm-up)")
        if args.verbose:
            print(bridge.output()[-5000:])
    finally:
        for child in reversed(children):
            child.stop()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
