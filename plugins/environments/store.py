"""Where plugin environments live on disk, how big they are, and removing unused ones.

``DATA_DIR/plugin-envs/<digest>``: one folder per environment, made read-only for the
plugins once built (owned by the worker's user, readable by every plugin uid);
``DATA_DIR/plugin-envs/.build-*``: builds in progress, renamed into place when done;
``DATA_DIR/plugin-wheels/<project digest>``: a project's wheel, built when its
requirements are locked, installed by the build that follows;
``DATA_DIR/plugin-wheels/<sdist key>``: the wheel built from a pinned sdist, alone (never
in the shared cache, which no package code writes);
``DATA_DIR/uv-cache``: uv's cache, shared by every build.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from plugins.sandbox.system import folder_size

WORK_PREFIX = ".build-"
# Folders of a plugin's project that are not part of what it installs.
SKIPPED_DIRS = {".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".venv"}


def environments_dir() -> Path:
    return Path(settings.DATA_DIR) / "plugin-envs"


def uv_cache_dir() -> Path:
    return Path(settings.DATA_DIR) / "uv-cache"


def environment_path(digest: str) -> Path:
    if not digest or not all(c in "0123456789abcdef" for c in digest):
        raise ValueError(f"not an environment digest: {digest[:80]!r}")
    return environments_dir() / digest


@dataclass(frozen=True, slots=True)
class Environment:
    path: Path
    digest: str
    python: str  # its interpreter


def environment_find(digest: str) -> Environment | None:
    """The environment of this digest, if this machine has built it."""
    path = environment_path(digest)
    if not (path / "pyvenv.cfg").is_file():
        return None
    return Environment(path=path, digest=digest, python=str(path / "bin" / "python"))


def environment_size(digest: str) -> int | None:
    """The bytes environment ``digest`` takes on this machine's disk (a file linked twice
    counted once); None when this machine does not have it."""
    try:
        return folder_size(environment_path(digest))
    except ValueError:  # not a digest: no folder of this machine bears that name
        return None


def tree_size(path: Path) -> int:
    total = 0
    for folder, dirs, files in os.walk(path):
        for name in [*files, *(d for d in dirs if os.path.islink(os.path.join(folder, d)))]:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def _left_out(folder: str, names: list[str]) -> list[str]:
    """What a project's copy and digest leave out: tool folders, and anything that is not
    a file, a folder or a link (a fifo would block the reader)."""
    out = []
    for name in names:
        mode = os.lstat(os.path.join(folder, name)).st_mode
        if name in SKIPPED_DIRS or not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
            out.append(name)
    return out


def project_copy(*, source: Path, into: Path) -> None:
    """Copy a plugin's project to a work folder (its build writes there), links as links."""
    shutil.copytree(source, into, symlinks=True, ignore=_left_out)


def project_digest(path: Path) -> str:
    """The content digest of a project tree: relative paths, file contents, link targets."""
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(path):
        left_out = set(_left_out(folder, [*dirs, *files]))
        dirs[:] = sorted(d for d in dirs if d not in left_out and not os.path.islink(os.path.join(folder, d)))
        links = [d for d in os.listdir(folder) if d not in left_out and os.path.islink(os.path.join(folder, d))]
        for name in sorted({*(f for f in files if f not in left_out), *links}):
            full = os.path.join(folder, name)
            digest.update(os.path.relpath(full, path).encode() + b"\0")
            if os.path.islink(full):
                digest.update(b"link\0" + os.readlink(full).encode() + b"\0")
                continue
            digest.update(b"file\0" + bytes([os.access(full, os.X_OK)]))
            with open(full, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            digest.update(b"\0")
    return digest.hexdigest()


def tree_seal(path: Path) -> None:
    """Make a built environment the worker's own and read-only for everyone else.

    Links are never followed (one could point at any file of this machine); files keep
    their execute bits.
    """
    me, group = os.geteuid(), os.getegid()
    for folder, dirs, files in os.walk(path):
        for name in [*dirs, *files, ""]:
            full = os.path.join(folder, name) if name else folder
            info = os.lstat(full)
            if (info.st_uid, info.st_gid) != (me, group):
                os.lchown(full, me, group)
            if stat.S_ISLNK(info.st_mode):
                continue
            if stat.S_ISDIR(info.st_mode):
                os.chmod(full, 0o755)  # noqa: S103 - every plugin uid reads its environment
            elif stat.S_ISREG(info.st_mode):
                executable = info.st_mode & 0o111
                os.chmod(full, 0o755 if executable else 0o644)
            else:
                os.unlink(full)  # a fifo or a socket has no place in an environment


def wheels_dir() -> Path:
    """The wheels of plugin projects, built by a lock and installed by the build after it."""
    return Path(settings.DATA_DIR) / "plugin-wheels"


def wheel_keep(*, key: str, wheel: Path) -> Path:
    """Keep a wheel built here under ``key``: a project's content digest, or what made
    an sdist's wheel (``core.sdist_key``). A copy: the wheel's own file is the build uid's."""
    folder = wheels_dir() / key
    shutil.rmtree(folder, ignore_errors=True)
    part = wheels_dir() / f".{key}.part"
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    shutil.copyfile(wheel, part / wheel.name)
    os.chmod(part / wheel.name, 0o644)
    part.rename(folder)
    return folder / wheel.name


def wheel_find(key: str) -> Path | None:
    """The wheel kept under ``key``, if any."""
    folder = wheels_dir() / key
    wheels = list(folder.glob("*.whl")) if key and folder.is_dir() else []
    if len(wheels) != 1:
        return None
    os.utime(folder)
    return wheels[0]


def environment_retire(digest: str) -> None:
    """Start the grace period of an environment no version uses any more."""
    path = environment_path(digest)
    if path.is_dir():
        os.utime(path)


def environments_clean(*, keep: Collection[str], grace_seconds: float) -> list[Path]:
    """Remove the environments whose digest is not in ``keep`` and that nothing has used or
    built for ``grace_seconds``, builds abandoned for as long (a killed worker's), and
    project wheels no build took for as long."""
    cutoff = time.time() - grace_seconds
    removed = _older_removed(wheels_dir(), keep=set(), cutoff=cutoff)  # a lock's, for its build
    return removed + _older_removed(environments_dir(), keep=keep, cutoff=cutoff)


def _older_removed(root: Path, *, keep: Collection[str], cutoff: float) -> list[Path]:
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for path in root.iterdir():
        if path.name in keep or not path.is_dir() or path.is_symlink():
            continue
        try:
            if path.stat().st_mtime > cutoff:
                continue
        except FileNotFoundError:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed
