"""Benchmark the plugin host against inline: ``python -m bench.plugin_host``.

Reports invocations per second, the p50/p99 latency of one command in each mode and the
host's overhead, the idle host's resident memory, and how long a reload takes to serve
the new code (close the old host, start a new one, answer the first command).

``--environments`` instead compares a host on a plugin environment of its own (made here
with uv; the host imports only the plugin runtime) with a host as the project started
them before environments (the worker's interpreter, the project root on its path), in
turns: first answer after start, p50 per invocation, idle memory.

Run as root, the host is confined as a root worker confines it (bubblewrap, its own uid,
hard limits, a cgroup where the machine has them); ``--plain`` benchmarks it unconfined.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import statistics
import subprocess
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
from plugins.sandbox.runtime import plugin_runtime
from plugins.sandbox.system import (
    EnvironmentPython,
    environment_binds,
    environment_python,
    interpreter_paths,
    system_layout,
    tool_path,
)
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


def environment_make(folder: Path) -> EnvironmentPython:
    """An empty plugin environment on this interpreter's base Python (uv, no index)."""
    import uv

    base = os.path.realpath(sys.executable)
    env = {**os.environ, "UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never"}
    subprocess.run([uv.find_uv_bin(), "venv", "-q", "--python", base, str(folder)], check=True, env=env)
    os.chmod(folder.parent, 0o755)  # the plugin's uid enters it
    return environment_python(str(folder / "bin" / "python"))


def environment_spec(spec: HostSpec, *, work: Path, found: EnvironmentPython | None) -> HostSpec:
    """``spec`` on the environment ``found`` (None: the worker's interpreter), importing
    only the plugin runtime."""
    runtime = plugin_runtime(work / "plugin-runtime")
    if found is None:
        if spec.sandbox is None:
            return dataclasses.replace(spec, runtime=str(runtime))
        box = dataclasses.replace(spec.sandbox, read_only=(*interpreter_paths(), str(runtime), *ROOTS))
        return dataclasses.replace(spec, runtime=str(runtime), sandbox=box)
    if spec.sandbox is None:
        return dataclasses.replace(spec, python=found.python, runtime=str(runtime))
    interpreter, emptied, overlays = environment_binds(found, configs=work / "plugin-runtime")
    box = dataclasses.replace(
        spec.sandbox,
        read_only=(*interpreter, str(runtime), *ROOTS),
        emptied=emptied,
        overlays=overlays,
    )
    return dataclasses.replace(spec, python=found.python, runtime=str(runtime), sandbox=box)


def host_rss(host: Host) -> tuple[float, float]:
    """The idle host's resident memory in MB: the Python process, and with bubblewrap's."""
    top = psutil.Process(host.pid)
    procs = [top, *top.children(recursive=True)]
    python = max(procs, key=lambda p: p.memory_info().rss)
    return python.memory_info().rss / 2**20, sum(p.memory_info().rss for p in procs) / 2**20


def compare_environments(*, n: int, rounds: int, plain: bool) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-env-"))
    os.chmod(work, 0o755)
    data = work / "data"
    data.mkdir()
    before = host_spec(data, plain=plain)
    runtime = environment_spec(before, work=work, found=None)
    after = environment_spec(before, work=work, found=environment_make(work / "envs" / "echo"))
    print(f"host: {'confined (bwrap, own uid, cgroup)' if before.sandbox else 'unconfined'}; {rounds} rounds in turns")
    message = {"op": "run", "command": "echo", "arguments": "hello world", "ctx": CTX}
    results: dict[str, dict[str, list[float]]] = {}
    for _ in range(rounds):
        for name, spec in (("before", before), ("runtime", runtime), ("env", after)):
            got = results.setdefault(name, {"first": [], "p50": [], "rss": [], "rss_all": []})
            start = time.perf_counter()
            host = Host(spec)
            outcome = host.request(message, on_call=lambda m, a: None)
            got["first"].append((time.perf_counter() - start) * 1000)
            assert outcome.reply is not None, outcome.error
            call = functools.partial(host.request, message, on_call=lambda m, a: None)
            timed(call, 200)  # warm up
            got["p50"].append(statistics.median(timed(call, n)))
            time.sleep(0.3)
            rss, rss_all = host_rss(host)
            got["rss"].append(rss)
            got["rss_all"].append(rss_all)
            host.close()
    med = {name: {k: statistics.median(v) for k, v in got.items()} for name, got in results.items()}
    b, r, e = med["before"], med["runtime"], med["env"]
    print("before: the worker's interpreter, the project root on the path; runtime: the worker's")
    print("interpreter, only the plugin runtime on the path; own env: a plugin environment (medians)")
    print(f"{'':28}{'before':>10}{'runtime':>10}{'own env':>10}{'env change':>12}")
    for key, label, form in (("first", "first answer after start ms", ".1f"), ("p50", "p50 per invocation ms", ".3f")):
        change = f"{e[key] - b[key]:+{form}}"
        print(f"{label:28}{b[key]:>10{form}}{r[key]:>10{form}}{e[key]:>10{form}}{change:>12}")
    for key, label in (("rss", "idle RSS host MB"), ("rss_all", "idle RSS with bwrap MB")):
        change = f"{(e[key] / b[key] - 1) * 100:+.1f} %"
        print(f"{label:28}{b[key]:>10.1f}{r[key]:>10.1f}{e[key]:>10.1f}{change:>12}")
    print(f"first answer, own env: max {max(results['env']['first']):.0f} ms over {rounds} starts")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=3000, help="invocations per mode")
    parser.add_argument("--plain", action="store_true", help="no sandbox, even as root")
    parser.add_argument("--environments", action="store_true", help="a host on its own environment against before")
    parser.add_argument("--rounds", type=int, default=10, help="with --environments: starts per kind, in turns")
    args = parser.parse_args()
    if args.environments:
        compare_environments(n=args.n, rounds=args.rounds, plain=args.plain)
        return
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
