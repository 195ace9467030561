"""Benchmark the plugin host against inline: ``python -m bench.plugin_host``.

Reports invocations per second, the p50/p99 latency of one command in each mode and the
host's overhead, the idle host's resident memory, and how long a reload takes to serve
the new code (close the old host, start a new one, answer the first command).

Run as root, the host is confined as a root worker confines it (bubblewrap, its own uid,
hard limits, a cgroup where the machine has them); ``--plain`` benchmarks it unconfined.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

from plugins.api import Context, Storage
from plugins.sandbox.cgroups import cgroups_available
from plugins.sandbox.confine import Sandbox
from plugins.sandbox.host import PROJECT_ROOT, Host, HostSpec, Limits
from plugins.sandbox.runner import command_run
from plugins.sandbox.system import interpreter_paths, system_layout, tool_path
from sessionbot.envcheck import UID_BASE

ROOT = Path(__file__).resolve().parent.parent
ROOTS = (str(ROOT / "plugins" / "builtin"), str(ROOT / "examples"))
sys.path[:0] = ROOTS
CTX = {
    "user_id": "05" + "ab" * 32,
    "conversation": "05" + "ab" * 32,
    "conversation_type": "private",
    "language": "en",
    "command": "echo",
    "config": {},
    "is_admin": False,
    "groups": [],
    "attachments": [],
}


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def timed(call, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def host_spec(data: Path, *, plain: bool) -> HostSpec:
    limits = Limits(timeout_seconds=10, memory_mb=256, cpu_seconds=10)
    if plain or os.geteuid() != 0:
        return HostSpec("echo", "sessionbot_builtin.echo:Echo", ROOTS, data, limits)
    links, present = system_layout()
    box = Sandbox(
        bwrap=tool_path("bwrap"),
        uid=UID_BASE + 65000,
        gid=UID_BASE + 65000,
        network=False,
        read_only=(*interpreter_paths(), str(PROJECT_ROOT / "plugins"), str(ROOT / "examples")),
        writable=str(data),
        links=links,
        present=present,
    )
    cgroups = not cgroups_available()
    return HostSpec("echo", "sessionbot_builtin.echo:Echo", ROOTS, data, limits, "/", box, 64, cgroups)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=3000, help="invocations per mode")
    parser.add_argument("--plain", action="store_true", help="no sandbox, even as root")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="bench-plugin-"))
    spec = host_spec(data, plain=args.plain)
    print(f"host: {'confined (bwrap, own uid, cgroup)' if spec.sandbox else 'unconfined'}")
    from sessionbot_builtin.echo import Echo

    instance = Echo()
    ctx = Context(user_id=str(CTX["user_id"]), command="echo", storage=Storage())
    inline = timed(lambda: command_run(instance=instance, command="echo", arguments="hello world", ctx=ctx), args.n)

    host = Host(spec)
    message = {"op": "run", "command": "echo", "arguments": "hello world", "ctx": CTX}
    timed(lambda: host.request(message, on_call=lambda m, a: None), 200)  # warm up
    isolated = timed(lambda: host.request(message, on_call=lambda m, a: None), args.n)
    time.sleep(0.5)
    top = psutil.Process(host.pid)  # under bubblewrap: its two processes and the host's
    rss = sum(p.memory_info().rss for p in [top, *top.children(recursive=True)]) / 1024 / 1024

    reloads = []
    for _ in range(10):
        start = time.perf_counter()
        host.close()
        host = Host(spec)
        host.request(message, on_call=lambda m, a: None)
        reloads.append((time.perf_counter() - start) * 1000)
    host.close()

    print(
        f"invocations/s   inline {1000 / statistics.mean(inline):>9.0f}   host {1000 / statistics.mean(isolated):>9.0f}"
    )
    for q in (50, 99):
        i, h = pct(inline, q), pct(isolated, q)
        print(f"p{q:<3} ms        inline {i:>9.3f}   host {h:>9.3f}   overhead {h - i:.3f}")
    print(f"idle host RSS   {rss:.1f} MB")
    print(f"reload to first answer: median {statistics.median(reloads):.0f} ms, max {max(reloads):.0f} ms")


if __name__ == "__main__":
    main()
