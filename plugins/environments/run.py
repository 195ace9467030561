"""Run one uv step confined like a plugin host, within a time limit. No Django.

The caller (``plugins.environments.steps``) decides the confinement: a root worker runs
the step under bubblewrap (``plugins.sandbox.confine.bwrap_argv``) with, besides its work
folder, the find-links folders readable and, for a step that runs no package code, the
shared uv cache writable; the step drops to the build uid with hard limits
(``plugins.environments.confined``). A worker that is not root runs it as itself with the
same limits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from queue import Empty, Queue

import psutil

from plugins.sandbox.confine import Entry, Sandbox, bwrap_argv
from plugins.sandbox.host import PROJECT_ROOT

# What a uv step (and the build backend it starts) sees of the environment.
ENV_PASSED = ("PATH", "LANG", "LC_ALL", "TZ")
WATCH_EVERY = 1.0  # seconds between two looks at what a step wrote to disk


@dataclass(frozen=True, slots=True)
class Confinement:
    """How every uv step of one lock or build runs."""

    sandbox: Sandbox | None  # None: as this process's user, without namespaces
    limits: Mapping[str, int]
    writable: tuple[str, ...] = ()  # besides the work folder: the shared uv cache, or nothing
    read_only: tuple[str, ...] = ()  # the find-links folders
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StepResult:
    returncode: int | None  # None: killed at a limit
    output: str  # what uv wrote to stderr: its progress and its errors
    stopped: str = ""  # why the watch stopped it ("" with no returncode: the time limit)


def step_argv(argv: Sequence[str], confinement: Confinement) -> list[str]:
    """The full command line: bubblewrap (if any), the confined entry, then uv's own."""
    box = confinement.sandbox
    entry = Entry(limits=confinement.limits, uid=box.uid if box else None, gid=box.gid if box else None)
    inner = [sys.executable, "-s", "-P", "-m", "plugins.environments.confined", entry.to_arg(), *argv]
    if box is None:
        return inner
    # Bound read-only with the rest (bubblewrap_argv makes the folders above them enterable),
    # then the writable ones again on top.
    box = replace(box, read_only=(*box.read_only, *confinement.read_only, *confinement.writable))
    outer = bwrap_argv(box)[:-1]  # up to its closing "--"
    for path in confinement.writable:
        outer += ["--bind", path, path]
    return [*outer, "--", *inner]


def step_environment(base: Mapping[str, str], confinement: Confinement, *, home: str) -> dict[str, str]:
    env = {k: v for k, v in base.items() if k in ENV_PASSED}
    env.setdefault("PATH", "/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    env.update(
        {
            "HOME": home,
            "TMPDIR": os.path.join(home, "tmp"),
            "PYTHONPATH": str(PROJECT_ROOT),  # for the confined entry only: it drops this
            "NO_COLOR": "1",
            "UV_NO_CONFIG": "1",  # no uv.toml of this machine or user changes a build
            "UV_PYTHON_DOWNLOADS": "never",
        }
    )
    env.update(confinement.env)
    return env


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        doomed = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        doomed = []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    for child in doomed:
        with contextlib.suppress(psutil.Error):
            child.kill()
    proc.wait()


def step_run(
    *,
    argv: Sequence[str],
    confinement: Confinement,
    home: str,
    timeout: float,
    on_line: Callable[[str], None],
    watch: Callable[[], str] | None = None,
) -> StepResult:
    """Run ``argv`` (uv and its arguments) confined, in ``home``; each line it writes goes
    to ``on_line`` as it comes. Killed, with its build backends, at ``timeout`` seconds or
    as soon as ``watch`` (asked every WATCH_EVERY seconds) gives a reason."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    proc = subprocess.Popen(
        step_argv(argv, confinement),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=home,
        env=step_environment(os.environ, confinement, home=home),
        start_new_session=True,
    )
    assert proc.stderr is not None
    stream = proc.stderr
    # Lines are handed over to this thread: ``on_line`` may write to the database.
    queue: Queue[str | None] = Queue()

    def drain() -> None:
        for raw in stream:
            queue.put(raw.decode("utf-8", "replace").rstrip())
        queue.put(None)

    threading.Thread(target=drain, name="uv-output", daemon=True).start()
    code: int | None = None
    stopped = ""
    try:
        stopped, finished = _follow(queue, lines, on_line, deadline=deadline, watch=watch)
        if finished:
            code = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    finally:
        if proc.poll() is None:  # past a limit, or ``on_line`` raised
            _kill(proc)
    stream.close()
    return StepResult(returncode=code, output="\n".join(lines), stopped=stopped)


def _follow(
    queue: Queue[str | None],
    lines: list[str],
    on_line: Callable[[str], None],
    *,
    deadline: float,
    watch: Callable[[], str] | None,
) -> tuple[str, bool]:
    """Pass the step's lines on until its output ends (True) or a limit is reached (the
    watch's reason, or "" for the time limit, and False)."""
    next_watch = time.monotonic() + WATCH_EVERY
    while (now := time.monotonic()) < deadline:
        if watch is not None and now >= next_watch:
            reason = watch()
            if reason:
                return reason, False
            next_watch = now + WATCH_EVERY
        try:
            line = queue.get(timeout=max(0.0, min(deadline, next_watch) - now))
        except Empty:
            continue
        if line is None:
            return "", True
        lines.append(line)
        if line.strip():
            on_line(line)
    return "", False
