"""How a plugin host is confined: the bubblewrap command line and the hard limits.

Pure module (no Django, no I/O): the caller looks the paths up and passes them in, and a
table test drives every case. A root worker starts each host as
``bwrap … -- python -s -P -m plugins.sandbox.child <confinement>``: new PID, IPC, UTS
(and, unless the version may use the network, network) namespaces, a fresh ``/proc``, a
minimal ``/dev``, a private ``/tmp``, and read-only binds of only what Python needs. The
host itself then applies the hard limits, joins its cgroup and drops to the plugin's own
uid before it reads a byte of plugin code (``plugins.sandbox.enter``): doing that in the
host saves the exec of a helper such as setpriv (about 5 ms per host start here).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# Read-only for every host: the system's programs and libraries (a symlink such as
# /lib -> usr/lib is recreated as a symlink), and the few files libc reads at start.
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
BASE_ETC = ("/etc/localtime", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d")
# Added for a version that may use the network: name resolution and TLS trust.
NETWORK_ETC = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/services",
    "/etc/protocols",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
)
# Mounted fresh in every sandbox (a tmpfs, a new /proc, a minimal /dev): never a --dir.
FRESH_MOUNTS = ("/tmp", "/proc", "/dev")  # noqa: S108
FILE_MB = 1024  # the largest file a plugin may write (its storage included)
OPEN_FILES = 1024
LIFETIME_CPU_MIN = 600  # seconds; the hard CPU limit of a host's whole life (see hard_limits)
LIFETIME_CPU_FACTOR = 50  # … or this many invocation budgets, if that is more


@dataclass(frozen=True, slots=True)
class Sandbox:
    """Where and as whom one host runs. ``links`` maps a system path to its symlink target."""

    bwrap: str
    uid: int
    gid: int
    network: bool
    read_only: tuple[str, ...]  # the interpreter, the venv, the plugins package, the code
    writable: str  # the plugin's own folder: its cwd and HOME
    links: Mapping[str, str] = field(default_factory=dict)
    present: frozenset[str] = frozenset(SYSTEM_PATHS + BASE_ETC + NETWORK_ETC)
    # Folders inside a read-only bind shown empty (a read-only tmpfs), then (source, path)
    # files mounted read-only over paths inside the binds: a plugin environment's bin/ and
    # pyvenv.cfg, which its build wrote, give way to a trusted interpreter and config.
    emptied: tuple[str, ...] = ()
    overlays: tuple[tuple[str, str], ...] = ()


def _system_binds(box: Sandbox) -> list[str]:
    # /etc first, 0755: bubblewrap would make it 0700 above the files bound into it, and
    # the plugin's uid could read none of them (name resolution, TLS trust, the loader).
    argv: list[str] = ["--perms", "0755", "--dir", "/etc"]
    etc = BASE_ETC + (NETWORK_ETC if box.network else ())
    for path in (*SYSTEM_PATHS, *etc):
        if path in box.links:
            argv += ["--symlink", box.links[path], path]
        elif path in box.present:
            argv += ["--ro-bind", path, path]
    return argv


def _depth_first(paths: set[str]) -> list[str]:
    return sorted(paths, key=lambda p: (p.count("/"), p))


def _folders_above(box: Sandbox) -> list[str]:
    """The folders to create (0755: enterable by the plugin's uid; bubblewrap would make
    them 0700) above the binds, short of ``/``, a system path and another bind."""
    binds = {*box.read_only, box.writable}
    covered = (*SYSTEM_PATHS, *binds)
    above = set()
    for path in binds:
        parts = path.strip("/").split("/")[:-1]
        for index in range(1, len(parts) + 1):
            folder = "/" + "/".join(parts[:index])
            inside = any(folder == c or folder.startswith(c.rstrip("/") + "/") for c in covered)
            if not inside and folder not in FRESH_MOUNTS:
                above.add(folder)
    return _depth_first(above)


def bwrap_argv(box: Sandbox) -> list[str]:
    """The bubblewrap command line, up to and including ``--``."""
    argv = [box.bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    if not box.network:
        argv.append("--unshare-net")
    argv += _system_binds(box)
    # Private /tmp and /dev/shm, writable by the plugin's uid as on any system (sticky).
    # Mounted before the binds: a project (its venv, snapshots, data) may live under /tmp,
    # and a tmpfs mounted later would hide what was bound below it.
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/dev/shm"]  # noqa: S108
    argv += ["--perms", "1777", "--tmpfs", "/tmp"]  # noqa: S108 - a private tmpfs
    for folder in _folders_above(box):
        argv += ["--dir", folder]
    # Parents before children, so a folder inside another is mounted on top of it.
    for path in _depth_first(set(box.read_only)):
        argv += ["--ro-bind", path, path]
    for path in box.emptied:
        argv += ["--perms", "0755", "--tmpfs", path]
    for source, path in box.overlays:
        argv += ["--ro-bind", source, path]
    for path in box.emptied:
        argv += ["--remount-ro", path]
    argv += ["--bind", box.writable, box.writable, "--chdir", box.writable, "--"]
    return argv


def hard_limits(*, memory_mb: int, cpu_seconds: float, processes: int | None) -> dict[str, int]:
    """The rlimits a host sets, soft and hard alike, before any plugin code runs.

    Hard: the plugin cannot raise them. ``CPU`` bounds the host's whole life (each
    invocation's own budget is the soft limit the host lowers, and the worker measures it
    from outside); ``NPROC`` counts every process of the uid, so it is per plugin, and is
    left out (None) when hosts share the worker's uid.
    """
    limits = {
        "AS": memory_mb * 1024 * 1024,
        "CPU": int(max(LIFETIME_CPU_MIN, LIFETIME_CPU_FACTOR * cpu_seconds)),
        "FSIZE": FILE_MB * 1024 * 1024,
        "NOFILE": OPEN_FILES,
        "CORE": 0,
    }
    if processes is not None:
        limits["NPROC"] = processes
    return limits


@dataclass(frozen=True, slots=True)
class Entry:
    """What the host does first, as root inside its namespaces or as the worker's user."""

    limits: Mapping[str, int]
    uid: int | None = None  # drop to this uid and gid (root worker only)
    gid: int | None = None
    cgroup_fds: Sequence[int] = ()  # open cgroup.procs files to join
    # Started without ``site`` (``-S``): a plugin environment's site-packages (and the .pth
    # files there, which run code) are added only once the host is confined.
    site: bool = False

    def to_arg(self) -> str:
        return json.dumps(
            {
                "limits": dict(self.limits),
                "uid": self.uid,
                "gid": self.gid,
                "cgroup_fds": list(self.cgroup_fds),
                "site": self.site,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_arg(cls, raw: str) -> Entry:
        data = json.loads(raw)
        return cls(
            limits={str(k): int(v) for k, v in data["limits"].items()},
            uid=data["uid"],
            gid=data["gid"],
            cgroup_fds=tuple(int(fd) for fd in data["cgroup_fds"]),
            site=bool(data.get("site", False)),
        )
