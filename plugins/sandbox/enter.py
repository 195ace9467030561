"""The plugin host's first steps, before it reads a byte of plugin code. No Django.

In this order: join the host's cgroup (so nothing it starts can leave it), make the
resource limits hard (soft = hard: a plugin cannot raise them), then, when the worker is
root, drop every capability and become the plugin's own uid and gid for good, with
``no_new_privs`` so no setuid program can give them back.
"""

from __future__ import annotations

import ctypes
import os
import resource
from pathlib import Path

from plugins.sandbox.confine import Entry

PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38


class EnterError(Exception):
    """The host could not confine itself; it must not go on."""


def host_enter(entry: Entry) -> None:
    os.umask(0o077)  # what the plugin creates is its own only
    for fd in entry.cgroup_fds:
        try:
            os.write(fd, b"0")  # 0: the writing process itself
        finally:
            os.close(fd)
    for name, value in entry.limits.items():
        resource.setrlimit(getattr(resource, f"RLIMIT_{name}"), (value, value))
    if entry.uid is not None and entry.gid is not None:
        _identity_drop(entry.uid, entry.gid)


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
