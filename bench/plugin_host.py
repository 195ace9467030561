"""Benchmark the plugin host against inline: ``python -m bench.plugin_host``.

Reports invocations per second, the p50/p99 latency of one command in each mode and the
host's overhead, the idle host's resident memory, and how long a reload takes to serve
the new code (close the old host, start a new one, answer the first command).

``--environments`` instead compares, in turns on the same machine, a host on a plugin
environment of its own (one requirement, built with the uv command lines of the builder;
only the plugin runtime on its path) with today's host (the worker's interpreter, only
the plugin runtime on its path: a version without an environment) and with the host of
before environments (the project root on its path): first answer after start, idle RSS
and PSS (one host at a time), and p50 per invocation (the three hosts called in turns).

Run as root, the host is confined as a root worker confines it (bubblewrap, its own uid,
hard limits, a cgroup where the machine has them); ``--plain`` benchmarks it unconfined.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import shutil
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


def _wheel(folder: Path) -> Path:
    """A tiny pure-Python wheel: the one requirement of the benchmark's environment."""
    import base64
    import hashlib
    import zipfile

    info = "sbbenchlib-1.0.dist-info"
    files = {
        "sbbenchlib/__init__.py": 'VERSION = "1.0"\n',
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: sbbenchlib\nVersion: 1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    folder.mkdir(parents=True)
    path = folder / "sbbenchlib-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def environment_make(folder: Path) -> EnvironmentPython:
    """A plugin environment with one small requirement, made with the uv command lines
    the builder runs (``plugins.environments.core``: a relocatable venv, then the pins
    installed as copies with their bytecode compiled), from a local wheel, no index."""
    import hashlib
    import sysconfig

    import uv

    from plugins.environments.core import UvSources, compile_argv, sync_argv, venv_argv

    wheel = _wheel(folder.parent / "wheels")
    src = UvSources(uv=uv.find_uv_bin(), cache=str(folder.parent / "uv-cache"), find_links=(str(wheel.parent),))
    pins = folder.parent / "pins.txt"
    pins.write_text(f"sbbenchlib==1.0 --hash=sha256:{hashlib.sha256(wheel.read_bytes()).hexdigest()}\n")
    env = {**os.environ, "UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never"}
    base = os.path.realpath(sys.executable)
    subprocess.run(venv_argv(src, python=base, target=str(folder)), check=True, env=env, capture_output=True)
    python = str(folder / "bin" / "python")
    subprocess.run(sync_argv(src, python=python, pins_file=str(pins)), check=True, env=env, capture_output=True)
    site = sysconfig.get_path("purelib", vars={"base": str(folder), "platbase": str(folder)})
    subprocess.run(compile_argv(python=base, site_packages=site, final=site), check=True, capture_output=True)
    os.chmod(folder.parent, 0o755)  # the plugin's uid enters it
    return environment_python(python)


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


MEMORY = ("rss", "rss_all", "pss", "pss_all")


def host_memory(host: Host) -> dict[str, float]:
    """The idle host's memory in MB: RSS and PSS of the Python process, and of its whole
    process tree (with bubblewrap's). PSS shares each page among the processes that map
    it, so the interpreter's pages that the worker and other hosts also map count in part."""
    top = psutil.Process(host.pid)
    procs = [top, *top.children(recursive=True)]
    info = {p.pid: p.memory_full_info() for p in procs}
    python = max(procs, key=lambda p: info[p.pid].rss)
    return {
        "rss": info[python.pid].rss / 2**20,
        "rss_all": sum(i.rss for i in info.values()) / 2**20,
        "pss": info[python.pid].pss / 2**20,
        "pss_all": sum(i.pss for i in info.values()) / 2**20,
    }


BATCH = 100  # invocations of one host before the next kind's turn
KINDS = (("before", "before"), ("today", "today's host"), ("env", "own env"))


def compare_environments(*, n: int, rounds: int, plain: bool) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-env-"))
    os.chmod(work, 0o755)
    data = work / "data"
    data.mkdir()
    before = host_spec(data, plain=plain)
    today = environment_spec(before, work=work, found=None)
    after = environment_spec(before, work=work, found=environment_make(work / "envs" / "echo"))
    specs = {"before": before, "today": today, "env": after}
    print(f"host: {'confined (bwrap, own uid, cgroup)' if before.sandbox else 'unconfined'}; {rounds} rounds in turns")
    message = {"op": "run", "command": "echo", "arguments": "hello world", "ctx": CTX}
    results: dict[str, dict[str, list[float]]] = {
        name: {key: [] for key in ("first", "p50", *MEMORY)} for name in specs
    }
    names = list(specs)
    for turn in range(rounds):
        order = names[turn % 3 :] + names[: turn % 3]  # each kind starts first in turn
        for name in order:  # one host at a time: its start, its first answer, its idle memory
            start = time.perf_counter()
            host = Host(specs[name])
            outcome = host.request(message, on_call=lambda m, a: None)
            results[name]["first"].append((time.perf_counter() - start) * 1000)
            assert outcome.reply is not None, outcome.error
            time.sleep(0.3)
            for key, value in host_memory(host).items():
                results[name][key].append(value)
            host.close()
        # The three side by side, in batches in turn: a change of the machine's load
        # falls on each kind alike.
        hosts = {name: Host(specs[name]) for name in order}
        calls = {
            name: functools.partial(host.request, message, on_call=lambda m, a: None) for name, host in hosts.items()
        }
        samples: dict[str, list[float]] = {name: [] for name in order}
        for name in order:
            timed(calls[name], 200)  # warm up
        for batch in range(max(1, n // BATCH)):
            for name in order[batch % 3 :] + order[: batch % 3]:
                samples[name] += timed(calls[name], BATCH)
        for name, host in hosts.items():
            results[name]["p50"].append(statistics.median(samples[name]))
            host.close()
    shutil.rmtree(work, ignore_errors=True)
    med = {name: {k: statistics.median(v) for k, v in got.items()} for name, got in results.items()}
    t, e = med["today"], med["env"]
    print("before: the worker's interpreter, the project root on the path (hosts before plugin")
    print("environments); today's host: the worker's interpreter, only the plugin runtime on the")
    print("path (a version without an environment); own env: a plugin environment with one")
    print(f"requirement, built as the builder does. Medians over {rounds} rounds; p50 of {n} calls a round,")
    print(f"the three hosts called in turns, {BATCH} calls at a time.")
    print(f"{'':30}" + "".join(f"{label:>14}" for _, label in KINDS) + f"{'env - today':>14}")
    rows = (
        ("first", "first answer after start ms", ".1f"),
        ("p50", "p50 per invocation ms", ".3f"),
    )
    for key, label, form in rows:
        cells = "".join(f"{med[name][key]:>14{form}}" for name, _ in KINDS)
        print(f"{label:30}{cells}{f'{e[key] - t[key]:+{form}}':>14}")
    for key, label in (
        ("rss", "idle RSS host MB"),
        ("rss_all", "idle RSS tree MB"),
        ("pss", "idle PSS host MB"),
        ("pss_all", "idle PSS tree MB"),
    ):
        cells = "".join(f"{med[name][key]:>14.2f}" for name, _ in KINDS)
        print(f"{label:30}{cells}{f'{(e[key] / t[key] - 1) * 100:+.1f} %':>14}")
    print(f"first answer, own env: max {max(results['env']['first']):.0f} ms over {rounds} starts")
    print(f"load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=3000, help="invocations per mode")
    parser.add_argument("--plain", action="store_true", help="no sandbox, even as root")
    parser.add_argument("--environments", action="store_true", help="a host on its own environment against today's")
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
