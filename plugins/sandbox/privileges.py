"""Operating-system protection around plugin hosts (Linux). Pure module (no Django).

A worker running as root confines each host (``plugins.sandbox.confine``) and gives the
plugin's data folder to the plugin's own uid. A worker that is not root makes itself
non-dumpable, which keeps a plugin running as the same user out of its ``/proc`` entries.
Secret files are made owner-only in any case.
"""

from __future__ import annotations

import logging
import os
import signal
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
