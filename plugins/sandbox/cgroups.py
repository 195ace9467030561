"""One cgroup per plugin host: a memory cap for its whole process tree, a process cap, and
its CPU time measured from outside. No Django.

cgroup v1 (one hierarchy per controller, as on these machines: ``memory``, ``pids`` and
``cpuacct``) and cgroup v2 (the unified hierarchy mounted at the root) are both handled.
The host joins through the ``cgroup.procs`` files it is handed (``plugins.sandbox.enter``)
before any plugin code runs, so no process of the plugin starts outside it. Closing kills
every process still in it and removes it.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
import time
from pathlib import Path

log = logging.getLogger(__name__)
ROOT = Path("/sys/fs/cgroup")
PARENT = "sessionbot"
V1 = ("memory", "pids", "cpuacct")
_serial = itertools.count()


def cgroups_available(root: Path = ROOT) -> str:
    """ "" when host cgroups can be made here, else why not."""
    if (root / "cgroup.controllers").is_file():
        wanted = {"memory", "pids", "cpu"}
        lacking = wanted - set((root / "cgroup.controllers").read_text().split())
        if lacking:
            return f"cgroup v2 lacks the {', '.join(sorted(lacking))} controller"
        return _read_only([root])
    missing = [c for c in V1 if not (root / c / "cgroup.procs").is_file()]
    if missing:
        return f"no cgroup v1 hierarchy for {', '.join(missing)} under {root}"
    return _read_only([root / c for c in V1])


def _read_only(folders: list[Path]) -> str:
    """A container's cgroups are mounted read-only (Docker's, unless privileged): the hosts
    then start without a cgroup of their own rather than not at all."""
    stuck = [str(folder) for folder in folders if not os.access(folder, os.W_OK)]
    return f"{', '.join(stuck)} cannot be written (a container's read-only cgroups)" if stuck else ""


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _hierarchies(root: Path) -> list[Path]:
    if (root / "cgroup.controllers").is_file():
        return [root / PARENT]
    return [root / c / PARENT for c in V1]


def cgroups_sweep(*, root: Path = ROOT) -> None:
    """Remove the cgroups of workers that are gone (killed before they could clean up),
    with whatever process of theirs is left. Named ``<plugin>-<worker pid>-<n>``."""
    for parent in _hierarchies(root):
        for folder in parent.glob("*-*-*"):
            try:
                os.kill(int(folder.name.rsplit("-", 2)[1]), 0)
                continue  # its worker still runs
            except ProcessLookupError:
                pass
            except (ValueError, PermissionError):
                continue
            HostCgroup([folder], v2=parent.parent == root).remove()


class HostCgroup:
    def __init__(self, folders: list[Path], *, v2: bool) -> None:
        self.folders, self.v2 = folders, v2
        self._usage_fd = -1
        if len(folders) == (1 if v2 else len(V1)):
            usage = folders[0] / "cpu.stat" if v2 else folders[V1.index("cpuacct")] / "cpuacct.usage"
            self._usage_fd = os.open(usage, os.O_RDONLY | os.O_CLOEXEC)

    @classmethod
    def create(cls, *, name: str, memory_bytes: int, pids: int, root: Path = ROOT) -> HostCgroup:
        """Make the cgroup (OSError if it cannot be made)."""
        leaf = f"{name}-{os.getpid()}-{next(_serial)}"
        if (root / "cgroup.controllers").is_file():
            parent = root / PARENT
            parent.mkdir(exist_ok=True)
            for folder in (root, parent):
                _write(folder / "cgroup.subtree_control", "+memory +pids +cpu")
            (parent / leaf).mkdir()
            group = cls([parent / leaf], v2=True)
            _write(parent / leaf / "memory.max", str(memory_bytes))
            with contextlib.suppress(OSError):
                _write(parent / leaf / "memory.swap.max", "0")
            _write(parent / leaf / "pids.max", str(pids))
            return group
        folders = [root / c / PARENT / leaf for c in V1]
        for folder in folders:
            folder.mkdir(parents=True)
        group = cls(folders, v2=False)
        _write(folders[0] / "memory.limit_in_bytes", str(memory_bytes))
        if (folders[0] / "memory.memsw.limit_in_bytes").exists():
            _write(folders[0] / "memory.memsw.limit_in_bytes", str(memory_bytes))  # no way out through swap
        _write(folders[1] / "pids.max", str(pids))
        return group

    def procs_fds(self) -> list[int]:
        """Open ``cgroup.procs`` files, one per hierarchy, for the host to join through."""
        return [os.open(folder / "cgroup.procs", os.O_WRONLY) for folder in self.folders]

    def cpu_seconds(self) -> float:
        """CPU time of every process that ever ran in the cgroup, reaped ones included."""
        raw = os.pread(self._usage_fd, 512, 0)
        if self.v2:
            return int(raw.split(b"usage_usec ", 1)[1].split(b"\n", 1)[0]) / 1e6
        return int(raw) / 1e9

    def out_of_memory(self) -> bool:
        """Whether the kernel had to refuse (or reclaim by killing) memory past the limit."""
        try:
            if self.v2:
                events = dict(line.split() for line in (self.folders[0] / "memory.events").read_text().splitlines())
                return events.get("max", "0") != "0" or events.get("oom_kill", "0") != "0"
            return int((self.folders[0] / "memory.failcnt").read_text()) > 0
        except (OSError, ValueError, IndexError):
            return False

    def pids(self, folder: Path | None = None) -> list[int]:
        try:
            return [int(p) for p in ((folder or self.folders[0]) / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def remove(self) -> None:
        """Kill what is left in it, then remove it."""
        if self._usage_fd >= 0:
            os.close(self._usage_fd)
            self._usage_fd = -1
        deadline = time.monotonic() + 2
        for folder in reversed(self.folders):
            while True:
                for pid in self.pids(folder):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if time.monotonic() > deadline:
                        log.warning("cannot remove the plugin host's cgroup %s: %s", folder, exc)
                        break
                    time.sleep(0.005)
