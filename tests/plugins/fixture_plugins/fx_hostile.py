"""A plugin written to escape its sandbox: each command tries one way out.

``ctx.config`` carries the test's parameters (sizes, paths, addresses, a marker that the
processes it leaves behind carry on their command line, so the test can find them).
"""

import os
import resource
import signal
import socket
import time
from pathlib import Path

from plugins.api import Context, Plugin, Reply, command


def _lift(kind: int) -> None:
    """Raise the soft limit as far as the hard one lets it (unlimited if that is)."""
    _, hard = resource.getrlimit(kind)
    resource.setrlimit(kind, (hard, hard))


def _linger(marker: str) -> None:
    """Become a process that sleeps for an hour, with ``marker`` on its command line."""
    try:
        os.execv("/bin/sleep", ["sleep", "3600", marker])
    finally:
        os._exit(1)


def _try(action) -> str:
    try:
        return f"ok:{action()}"
    except OSError as exc:
        return f"{type(exc).__name__}:{exc.strerror}"


def _connect(target: str) -> str:
    kind, _, address = target.partition(":")
    if kind == "unix":
        with socket.socket(socket.AF_UNIX) as sock:
            return _try(lambda: sock.connect(address))
    host, _, port = address.rpartition(":")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.settimeout(3)
        return _try(lambda: sock.connect((host.strip("[]"), int(port))))


class Hostile(Plugin):
    @command("bigalloc", summary="Lifts its memory limit and allocates past it")
    def bigalloc(self, ctx: Context) -> Reply:
        _lift(resource.RLIMIT_AS)
        block = bytearray(int(ctx.config["mb"]) * 1024 * 1024)  # zero-filled: every page touched
        return Reply(f"allocated {len(block) // (1024 * 1024)} MB")

    @command("spin", summary="Lifts its CPU limit and spins past it")
    def spin(self, ctx: Context) -> Reply:
        _lift(resource.RLIMIT_CPU)
        end = time.process_time() + float(ctx.config["seconds"])
        while time.process_time() < end:
            pass
        return Reply("spun")

    @command("forkbomb", summary="Forks as many lingering children as it can")
    def forkbomb(self, ctx: Context) -> Reply:
        count = 0
        for _ in range(int(ctx.config["tries"])):
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                _linger(ctx.config["marker"])
            count += 1
        return Reply(f"forked {count}")

    @command("escape", summary="Leaves a setsid() grandchild behind and dies by itself")
    def escape(self, ctx: Context) -> Reply:
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                _linger(ctx.config["marker"])
            os._exit(0)
        time.sleep(0.5)  # the grandchild has exec'd
        if ctx.config.get("how") == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        os._exit(3)

    @command("files", summary="Reads and writes the paths it is given")
    def files(self, ctx: Context) -> Reply:
        lines = [f"read {p} {_try(lambda p=p: len(Path(p).read_bytes()))}" for p in ctx.config.get("read", [])]
        lines += [f"write {p} {_try(lambda p=p: Path(p).write_text('x'))}" for p in ctx.config.get("write", [])]
        return Reply("\n".join(lines))

    @command("mine", summary="Writes and reads its own storage and files")
    def mine(self, ctx: Context) -> Reply:
        ctx.storage.set("seen", int(ctx.storage.get("seen", 0)) + 1)
        Path("own.txt").write_text(ctx.plugin)
        return Reply(f"{ctx.storage.get('seen')} {Path('own.txt').read_text()}")

    @command("net", summary="Connects to the addresses it is given and lists its interfaces")
    def net(self, ctx: Context) -> Reply:
        lines = [f"{target} {_connect(target)}" for target in ctx.config.get("targets", [])]
        lines.append("interfaces " + ",".join(sorted(name for _, name in socket.if_nameindex())))
        return Reply("\n".join(lines))


class Neighbour(Plugin):
    """A second plugin beside Hostile, with commands of its own names."""

    @command("nmine", summary="Writes and reads its own storage and files")
    def nmine(self, ctx: Context) -> Reply:
        return Hostile.mine(self, ctx)  # type: ignore[arg-type]
