"""The plugin host's first steps, before it reads a byte of plugin code. No Django.

Make the resource limits hard (soft = hard: a plugin cannot raise them); when the worker
is root, drop every capability and become the plugin's own uid and gid for good, with
``no_new_privs`` so no setuid program can give them back; and join the host's cgroup, so
nothing it starts can leave it. Joining a cgroup v1 hierarchy waits for an RCU grace
period (several ms each on a busy machine, three hierarchies), so it runs in a thread
while the host imports its modules; the host waits for it (:meth:`Joining.wait`) before
it loads the plugin. The kernel checks the rights of whoever opened the ``cgroup.procs``
files (the root worker), so the join works after the drop too.
"""

from __future__ import annotations

import ctypes
import os
import resource
import threading
from pathlib import Path

from plugins.sandbox.confine import Entry

PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38


class EnterError(Exception):
    """The host could not confine itself; it must not go on."""


class Joining:
    """The host joining its cgroups, in a thread of its own."""

    def __init__(self, fds: tuple[int, ...]) -> None:
        self._fds, self._error = fds, ""
        self._thread = threading.Thread(target=self._join, name="cgroup-join", daemon=True)
        self._thread.start()

    def _join(self) -> None:
        for fd in self._fds:
            try:
                os.write(fd, b"0")  # 0: the writing process (all its threads) itself
            except OSError as exc:
                self._error = self._error or f"cannot join the host's cgroup: {exc.strerror}"
            finally:
                os.close(fd)

    def wait(self) -> None:
        """Return once the host is in its cgroups; EnterError if it could not join them."""
        self._thread.join()
        if self._error:
            raise EnterError(self._error)


def host_enter(entry: Entry) -> Joining | None:
    os.umask(0o077)  # what the plugin creates is its own only
    for name, value in entry.limits.items():
        resource.setrlimit(getattr(resource, f"RLIMIT_{name}"), (value, value))
    if entry.uid is not None and entry.gid is not None:
        _identity_drop(entry.uid, entry.gid)
    return Joining(tuple(entry.cgroup_fds)) if entry.cgroup_fds else None


def _identity_drop(uid: int, gid: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for cap in range(last + 1):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise EnterError(f"cannot drop capability {cap}: {os.strerror(ctypes.get_errno())}")
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)  # from root to another uid: permitted and effective sets empty
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise EnterError("cannot set no_new_privs")
    status = Path("/proc/self/status").read_text()
    caps = [line.split()[1] for line in status.splitlines() if line.startswith(("CapEff", "CapPrm", "CapBnd"))]
    if os.getresuid() != (uid, uid, uid) or os.getgroups() or any(int(c, 16) for c in caps):
        raise EnterError("the host did not drop its privileges")
