"""Benchmark: the latency the Session bridge hop adds, measured on the local test network.

Inbound: from the moment a user's message is stored on the (local) swarm until the broker
side holds the ``message`` frame (poll wait + fetch + decrypt + frame). Outbound: from a
``send`` frame until its ``sent`` answer (encrypt + store + sync copy + persist the ref).
Real crypto, real HTTPS to the local storage server, a real WebSocket to a protocol peer.

Run: ``.venv/bin/python -m bench.bridge [--samples N]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sessionbot.settings")

from session_python import Session

from bridge.account import SessionAccount
from bridge.network import network_build
from bridge.receiver import PollTiming
from bridge.runtime import Bridge, BridgeSettings
from sessiontestnet.server import SessionTestnet
from tests.bridge.peer import ProtocolPeer


def _summary(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"{name:<44} median {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   (n={len(ms)})"


async def _measure(url: str, interval: float, samples: int) -> tuple[list[float], list[float]]:
    peer = await ProtocolPeer(token="bench").start()
    user = SessionAccount(mnemonic=Session.generate_mnemonic(), network=network_build(url))
    with tempfile.TemporaryDirectory() as state:
        timing = PollTiming(active_seconds=interval, idle_seconds=interval, active_window_seconds=60)
        cfg = BridgeSettings(
            broker_url=peer.url,
            token="bench",
            mnemonic=Session.generate_mnemonic(),
            state_dir=Path(state),
            network_url=url,
            timing=timing,
            typing=False,
        )
        bridge = Bridge(cfg)
        task = asyncio.create_task(bridge.run())
        await peer.wait(lambda: peer.hellos)
        inbound, outbound = [], []
        for i in range(samples):
            await asyncio.to_thread(user.send, to=bridge.bot_id, text=f"/ping {i}")
            start = time.perf_counter()
            await peer.wait(lambda n=i + 1: len(peer.messages) >= n, timeout=60)
            inbound.append(time.perf_counter() - start)
            start = time.perf_counter()
            await peer.send(ref=f"b{i}", to=user.session_id, text=f"pong {i}")
            await peer.wait(lambda n=i + 1: len(peer.sent) >= n, timeout=60)
            outbound.append(time.perf_counter() - start)
        bridge.stop()
        await task
    await peer.stop()
    return inbound, outbound


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    server = SessionTestnet()
    server.start_background()
    try:
        for interval in (1.0, 0.1):
            inbound, outbound = asyncio.run(_measure(server.url, interval, args.samples))
            print(_summary(f"inbound, poll interval {interval:.1f} s (stored → frame)", inbound))
            print(_summary("outbound (send frame → sent frame)", outbound))
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
