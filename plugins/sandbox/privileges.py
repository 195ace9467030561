"""Operating-system protection around plugin hosts (Linux). Pure module (no Django).

A worker running as root starts its plugin hosts as an unprivileged user (``nobody`` by
default, ``PLUGIN_HOST_USER``), so a plugin can read neither the worker's memory or
``/proc/<pid>/environ`` nor files only root may read. The data folder is made traversable
but not listable for that user, and the files holding secrets are made readable by their
owner only. A worker that is not root makes itself non-dumpable instead, which keeps a
plugin running as the same user out of its ``/proc`` entries.
"""

from __future__ import annotations

import logging
import os
import pwd
import signal
import site
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
_done: set[str] = set()


@dataclass(frozen=True, slots=True)
class HostUser:
    name: str
    uid: int
    gid: int


def host_user(*, name: str) -> HostUser | None:
    """The user plugin hosts run as: ``name`` when this process is root, else None (stay)."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    return HostUser(entry.pw_name, entry.pw_uid, entry.pw_gid)


def folder_enterable(*, path: Path, user: HostUser) -> bool:
    """Whether ``user`` may pass through every folder above ``path``."""
    return _reachable(path.parent, user, bits=1)


def _reachable(path: Path, user: HostUser, *, bits: int) -> bool:
    """Whether ``user`` may enter every folder above ``path`` and has ``bits`` (r=4, x=1) on it."""
    try:
        chain = [*reversed(path.parents), path]
        for index, item in enumerate(chain):
            info = item.stat()
            shift = 6 if info.st_uid == user.uid else 3 if info.st_gid == user.gid else 0
            wanted = bits if index == len(chain) - 1 else 1
            if (info.st_mode >> shift) & wanted != wanted:
                return False
    except OSError:
        return False
    return True


def host_python(*, user: HostUser) -> tuple[str, tuple[str, ...]] | None:
    """An interpreter ``user`` can run, and the site-packages to add so plugins find the
    worker's distributions; None when it can run none.

    The worker's own when it can (a venv over a system Python); else the system's Python
    of the same version (a Python installed under /root, as pyenv does, is out of reach).
    """
    own = Path(sys.executable).resolve()
    stdlib = Path(sys.base_prefix) / "lib"
    if _reachable(own, user, bits=5) and _reachable(stdlib, user, bits=5):
        return sys.executable, ()
    name = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for folder in ("/usr/local/bin", "/usr/bin", "/bin"):
        candidate = Path(folder) / name
        if candidate.is_file() and _reachable(candidate.resolve(), user, bits=5):
            extra = tuple(p for p in site.getsitepackages() if _reachable(Path(p), user, bits=5))
            return str(candidate), extra
    return None


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        return int(ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def process_protect() -> None:
    """Make this process non-dumpable: a same-user process cannot read its ``/proc`` environ
    or memory, nor attach a debugger to it."""
    if "dumpable" not in _done and _prctl(PR_SET_DUMPABLE, 0):
        _done.add("dumpable")


def child_subreaper() -> None:
    """Keep orphaned descendants (even ones that called setsid()) below this process, where
    the worker finds and kills them with it."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


def parent_death_kill() -> None:
    """Have the kernel kill this process when the process that started it dies."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def folder_give(*, path: Path, user: HostUser) -> None:
    """Make ``path`` (and all it holds) the host user's own, private folder."""
    for folder, dirs, files in os.walk(path):
        for name in [folder, *(os.path.join(folder, d) for d in dirs), *(os.path.join(folder, f) for f in files)]:
            info = os.lstat(name)
            if (info.st_uid, info.st_gid) != (user.uid, user.gid):
                os.lchown(name, user.uid, user.gid)
    os.chmod(path, 0o700)


def _tighten(path: Path, mode: int) -> None:
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if current & ~mode:
        os.chmod(path, current & mode)
        log.warning("%s was readable by other users; its mode is now %o", path, current & mode)


def secrets_hide(*, data_dir: Path, secret_files: Iterable[Path], public_dirs: Iterable[Path]) -> None:
    """Before the first host starts as another user: keep it out of the platform's files.

    The data folder stays traversable (the host needs its own folder and its code inside),
    but not listable; secret files become owner-only. Done once per process.
    """
    if "secrets" in _done:
        return
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    os.chmod(data_dir, (mode & 0o700) | 0o711)  # noqa: S103 - traversable, not listable
    for path in secret_files:
        _tighten(path, 0o600)
    for folder in public_dirs:
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o755)  # noqa: S103 - the host user reads its code and enters its folder
    _done.add("secrets")
