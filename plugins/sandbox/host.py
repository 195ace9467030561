"""The worker's side of a plugin host: start it, send it work, enforce the wall-time limit.

No Django here either: the caller passes everything in (see ``plugins.execution``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from plugins.envnames import env_name_problem
from plugins.sandbox.cgroups import HostCgroup
from plugins.sandbox.confine import Entry, Sandbox, bwrap_argv, hard_limits
from plugins.sandbox.drain import OutputDrain
from plugins.sandbox.privileges import HostUser, folder_give, process_protect
from plugins.sandbox.protocol import ProtocolError, frame_read, frame_write
from plugins.sandbox.runner import MEMORY, Outcome

log = logging.getLogger(__name__)
PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
# Only these variables reach a plugin; everything else (and anything secret-looking) stays.
ENV_PASSED = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")
SECRET_LOOKING = re.compile(r"SECRET|TOKEN|PASS|KEY|MNEMONIC|DATABASE|REDIS|CREDENTIAL|AUTH|PRIVATE|SEED", re.I)
TIMEOUT, CPU, CRASHED, UNAVAILABLE = "timeout", "cpu", "crashed", "unavailable"
START_TIMEOUT = 30.0
# While an invocation runs, the worker looks at the host's CPU time this often: the budget
# holds even for a plugin that raised its own soft RLIMIT_CPU (up to the hard one).
CPU_POLL = 0.05


class HostLoadError(Exception):
    """The plugin's code did not load in its host; ``str(error)`` says why."""


class CpuExceeded(Exception):
    """The host's processes used more CPU time than the invocation's budget."""


@dataclass(frozen=True, slots=True)
class Limits:
    timeout_seconds: float
    memory_mb: int
    cpu_seconds: float


@dataclass(frozen=True, slots=True)
class HostSpec:
    """Everything needed to start a host for one plugin version."""

    plugin: str
    entrypoint: str
    roots: tuple[str, ...]
    data_dir: Path
    limits: Limits
    prefix: str = "/"
    sandbox: Sandbox | None = None  # root worker: namespaces and the plugin's own uid
    max_processes: int | None = None  # per plugin uid (RLIMIT_NPROC) and per host (pids.max)
    cgroups: bool = False  # give each host a cgroup (memory, pids, CPU time)
    python: str = ""  # the interpreter of the version's own environment; empty: this one
    # The plugin's own variables (its secrets, env:): never in a repr, so never in a log.
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    api: str = "sessionbot"  # "legacy": an older bot's plugin, run through its adapter
    # The folder on the host's PYTHONPATH: the plugin runtime (plugins.sandbox.runtime);
    # empty: the project root (a benchmark or a test that builds its own spec).
    runtime: str = ""


def host_environment(
    base: Mapping[str, str], *, data_dir: Path, own: Iterable[tuple[str, str]] = (), runtime: str = ""
) -> dict[str, str]:
    """The plugin host's environment: a short allow-list of the worker's ``base`` (never a
    secret-looking name), then the plugin's ``own`` variables (its secrets, given on
    purpose), then the platform's, which no variable of the plugin can replace.

    ``runtime``: the only folder of the platform the host imports from (the plugin runtime).
    """
    env = {k: v for k, v in base.items() if k in ENV_PASSED and not SECRET_LOOKING.search(k)}
    env.setdefault("PATH", "/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    env.update((k, v) for k, v in own if not env_name_problem(k))
    env.update(
        {
            "HOME": str(data_dir),
            "TMPDIR": str(data_dir / "tmp"),
            "PYTHONPATH": runtime or str(PROJECT_ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


Caller = Callable[[str, dict[str, Any]], Any]


@functools.cache
def _bytecode_ready() -> None:
    """Compile the modules every host imports, once per worker process.

    Hosts run with PYTHONDONTWRITEBYTECODE (and, confined, cannot write to the project), so
    without cached bytecode each host start compiled ``plugins.api`` and the sandbox modules
    again: about a third of its start time. Skipped quietly where the project is read-only.
    """
    import compileall

    with contextlib.suppress(OSError):
        compileall.compile_dir(PROJECT_ROOT / "plugins", maxlevels=1, quiet=2)


class Host:
    """One running plugin host process; used by one thread at a time."""

    def __init__(self, spec: HostSpec) -> None:
        self.spec = spec
        self.commands: list[dict[str, Any]] = []
        self.cgroup: HostCgroup | None = None
        self._cpu_start = 0.0
        (spec.data_dir / "tmp").mkdir(parents=True, exist_ok=True)
        process_protect()
        if not spec.runtime:
            _bytecode_ready()  # a runtime folder is compiled when it is made
        argv, fds = self._argv()
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,  # the plugin's prints and logging: see OutputDrain
                cwd=spec.data_dir,
                env=host_environment(os.environ, data_dir=spec.data_dir, own=spec.env, runtime=spec.runtime),
                pass_fds=fds,
                # Its own session and process group: killing the group takes its children too,
                # and a Ctrl-C to the worker is the worker's to handle.
                start_new_session=True,
            )
        except OSError as exc:
            self._cgroup_remove()
            raise HostLoadError(f"the plugin host did not start: {exc}") from None
        finally:
            for fd in fds:
                os.close(fd)
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self.output = OutputDrain(stream=self.proc.stderr, plugin=spec.plugin)
        self._w, self._r = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        self._start()

    def _argv(self) -> tuple[list[str], list[int]]:
        """The host's command line, and the cgroup files it joins through."""
        spec, box = self.spec, self.spec.sandbox
        limits = hard_limits(
            memory_mb=spec.limits.memory_mb,
            cpu_seconds=spec.limits.cpu_seconds,
            processes=spec.max_processes if box is not None else None,
        )
        self.lifetime_cpu = limits["CPU"]
        fds: list[int] = []
        if spec.cgroups:
            try:
                self.cgroup = HostCgroup.create(
                    name=spec.plugin, memory_bytes=limits["AS"], pids=spec.max_processes or 64
                )
                fds = self.cgroup.procs_fds()
            except OSError as exc:
                self._cgroup_remove()
                raise HostLoadError(f"the plugin host's cgroup could not be made: {exc}") from None
        # -P: the host's working folder (the plugin's own, writable) is not on sys.path; -s:
        # nor its ~/.local site-packages (the host starts as root inside the sandbox). -S, on
        # a plugin's own environment: its site-packages wait until the host is confined.
        site = bool(spec.python)
        argv = [spec.python or sys.executable, "-s", "-P", *(["-S"] if site else []), "-m", "plugins.sandbox.child"]
        entry = Entry(limits=limits, cgroup_fds=fds, site=site)
        if box is not None:
            folder_give(path=spec.data_dir, user=HostUser(spec.plugin, box.uid, box.gid))
            entry = Entry(limits=limits, uid=box.uid, gid=box.gid, cgroup_fds=fds, site=site)
            argv = [*bwrap_argv(box), *argv]
        return [*argv, entry.to_arg()], fds

    def _cgroup_remove(self) -> None:
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None

    def _start(self) -> None:
        limits = self.spec.limits
        init = {
            "op": "init",
            "plugin": self.spec.plugin,
            "entrypoint": self.spec.entrypoint,
            "roots": list(self.spec.roots),
            "memory_mb": limits.memory_mb,
            "cpu_seconds": limits.cpu_seconds,
            "prefix": self.spec.prefix,
            # In its own PID namespace its parent is bubblewrap's init, not this worker.
            "parent": 0 if self.spec.sandbox is not None else os.getpid(),
        }
        try:
            frame_write(self._w, init)
            answer = self._read(time.monotonic() + START_TIMEOUT)
        except TimeoutError:
            self.close()
            raise HostLoadError(f"the plugin did not load within {START_TIMEOUT:g} s") from None
        except (ProtocolError, OSError) as exc:
            self.close()
            raise HostLoadError(f"the plugin host did not start: {exc}") from None
        if answer["op"] != "ready":
            self.close()
            raise HostLoadError(str(answer.get("error", "the plugin did not load")))
        self.commands = list(answer.get("commands", []))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        """Running, and not near its lifetime CPU limit (then the pool starts a fresh one)."""
        worn = self.cgroup is not None and self._cpu_start > self.lifetime_cpu / 2
        return self.proc.poll() is None and not worn

    def _read(self, deadline: float, *, budget: float | None = None) -> dict[str, Any]:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no answer in time")
            wait = min(remaining, CPU_POLL) if budget is not None and self.cgroup is not None else remaining
            if select.select([self._r], [], [], wait)[0]:
                return frame_read(self._r)
            if budget is not None and self.cgroup is not None and self.cgroup.cpu_seconds() - self._cpu_start > budget:
                raise CpuExceeded

    def request(self, message: dict[str, Any], *, on_call: Caller, timeout: float | None = None) -> Outcome:
        """Send ``run`` or ``health``; answer platform calls until the result comes back.

        Past the wall-time limit the host is killed (outcome ``timeout``); a host that dies
        gives ``crashed``. Either way this host is done and the pool starts a new one.
        """
        deadline = time.monotonic() + (timeout or self.spec.limits.timeout_seconds)
        if self.cgroup is not None:
            self._cpu_start = self.cgroup.cpu_seconds()
        try:
            frame_write(self._w, message)
            while True:
                answer = self._read(deadline, budget=self.spec.limits.cpu_seconds)
                if answer["op"] == "result":
                    outcome = _outcome_read(answer)
                    if outcome.status == MEMORY:
                        self.close()
                    return outcome
                if answer["op"] == "call":
                    frame_write(self._w, _platform_answer(on_call, answer))
        except TimeoutError:
            self.kill()
            return Outcome(TIMEOUT, error=f"no answer within {self.spec.limits.timeout_seconds:g} s; host killed")
        except CpuExceeded:
            self.kill()
            return self._cpu_outcome()
        except (ProtocolError, OSError, KeyError) as exc:
            # A host that breaks the protocol is out of step with us: it cannot be reused.
            out_of_memory = self.cgroup is not None and self.cgroup.out_of_memory()
            self.kill()
            # bubblewrap passes on a signal that killed the host as 128 + its number.
            if self.proc.returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
                return self._cpu_outcome()
            if out_of_memory:
                return Outcome(MEMORY, error=f"past the memory limit of {self.spec.limits.memory_mb} MB; host killed")
            return Outcome(CRASHED, error=f"the plugin host stopped ({self._exit_reason()}): {exc}")
        except Exception as exc:
            # Anything else left the host waiting for an answer: given back to the pool, its
            # next request would be read as that answer, and the stale run's reply taken for
            # another invocation's (another user's). It is done.
            log.exception("the worker failed while serving the plugin host")
            self.kill()
            return Outcome(CRASHED, error=f"the worker failed while serving the plugin: {type(exc).__name__}")

    def _cpu_outcome(self) -> Outcome:
        return Outcome(CPU, error=f"past the CPU limit of {self.spec.limits.cpu_seconds:g} s; host killed")

    def _exit_reason(self) -> str:
        code = self.proc.poll()
        if code is None:
            return "still running"
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}"

    def _descendants(self) -> list[psutil.Process]:
        # The host is a child subreaper, so even a process that left its group with setsid()
        # stays below it while it lives.
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            return []

    def _kill_group(self, extra: list[psutil.Process] | None = None) -> None:
        # The host's process group and every descendant: what the plugin forked dies with it.
        doomed = self._descendants() + (extra or [])
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for proc in doomed:
            with contextlib.suppress(psutil.Error):
                proc.kill()

    def kill(self) -> None:
        self._kill_group()
        self.proc.wait()
        self._close_pipes()
        self._cgroup_remove()
        self.output.finish()

    def close(self) -> None:
        """Ask the host to exit; kill it if it does not within a second."""
        left = self._descendants()  # once the host exits they would be init's
        if self.proc.poll() is None:
            try:
                frame_write(self._w, {"op": "exit"})
                self.proc.wait(timeout=1)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill_group(left)
        self.proc.wait()
        self._close_pipes()
        self._cgroup_remove()
        self.output.finish()

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()


def _outcome_read(answer: dict[str, Any]) -> Outcome:
    # The frame comes from plugin code, which can write to its pipe: any shape may arrive.
    try:
        return Outcome.from_wire(answer)
    except (TypeError, ValueError, AttributeError) as exc:
        raise ProtocolError(f"malformed result frame: {type(exc).__name__}") from None


def platform_call(on_call: Caller, method: str, args: dict[str, Any]) -> Any:
    """``on_call(method, args)``, every failure a PluginError the plugin can handle.

    Inline and in a host alike: a call the service cannot take is the plugin's mistake (or
    an attack); any other failure is ours (a value it does not expect, the database away).
    """
    from plugins.api import PluginError

    try:
        return on_call(method, args)
    except PluginError:
        raise
    except TypeError:
        raise PluginError(f"bad arguments for platform call {method[:40]!r}") from None
    except Exception:
        log.exception("platform call %r failed", method[:40])
        raise PluginError("the platform service failed; try again later") from None


def _platform_answer(on_call: Caller, call: dict[str, Any]) -> dict[str, Any]:
    from plugins.api import PluginError

    args = call.get("args") or {}
    if not isinstance(args, dict) or not all(isinstance(k, str) for k in args):
        raise ProtocolError("a platform call's args must be an object")
    try:
        return {"op": "return", "value": platform_call(on_call, str(call["method"]), args)}
    except PluginError as exc:  # the host stays in step with us: it gets an answer either way
        return {"op": "raise", "error": str(exc)}
