"""What this machine offers a sandboxed plugin host: look-ups only, no Django.

Read once per process: the layout of the system folders (which are symlinks, as ``/lib``
is on a merged-/usr system), the interpreter's folders, whether a tool can be run.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from plugins.sandbox.confine import BASE_ETC, NETWORK_ETC, SYSTEM_PATHS
from plugins.sandbox.runtime import venv_config


@functools.cache
def system_layout() -> tuple[dict[str, str], frozenset[str]]:
    """System paths that are symlinks (path → target), and those that exist."""
    links, present = {}, set()
    for path in (*SYSTEM_PATHS, *BASE_ETC, *NETWORK_ETC):
        if os.path.islink(path) and path in SYSTEM_PATHS:
            links[path] = os.readlink(path)
        elif os.path.exists(path):
            present.add(path)
    return links, frozenset(present)


@functools.cache
def interpreter_paths() -> tuple[str, ...]:
    """The folders the host's Python needs that the system binds do not already cover:
    the venv (the worker's distributions) and the Python it was made from."""
    system = tuple(Path(p).resolve() for p in SYSTEM_PATHS if os.path.isdir(p))
    found = []
    for prefix in {sys.prefix, sys.base_prefix, str(Path(sys.executable).resolve().parent.parent)}:
        path = Path(prefix)
        if not any(path.resolve().is_relative_to(folder) for folder in system):
            found.append(str(path))
    return tuple(sorted(found))


def tool_problem(path: str) -> str:
    """ "" when ``path`` (a file, or a name on PATH) can be run, else why not."""
    found = shutil.which(path)
    if found is None:
        return f"{path} is not installed (or not executable)"
    return ""


def tool_path(path: str) -> str:
    return shutil.which(path) or path


class InterpreterError(Exception):
    """A plugin environment's interpreter cannot be used; ``str(error)`` says why."""


@dataclass(frozen=True, slots=True)
class EnvironmentPython:
    """A plugin environment's interpreter and the trusted Python it runs on.

    ``python`` (``<env>/bin/python``) is what a host runs. The environment was written by
    a build that ran a plugin's code, so inside the sandbox the host sees ``base`` (the
    resolved interpreter, outside the environment, not writable by others) in its place,
    with ``prefix`` (its installation) bound read-only.
    """

    env: str
    python: str
    base: str
    prefix: str


def _writable_by_others(path: Path) -> bool:
    info = path.stat()
    return info.st_uid not in (0, os.geteuid()) or bool(info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def environment_python(python: str) -> EnvironmentPython:
    """Look ``python`` (an environment's ``bin/python``) up; InterpreterError if unusable."""
    path = Path(python)
    env = path.parent.parent
    if not (env / "pyvenv.cfg").is_file() or not (path.is_file() and os.access(path, os.X_OK)):
        raise InterpreterError(f"{env} is not a Python environment (no pyvenv.cfg or bin/python)")
    if (env / "pyvenv.cfg").is_symlink() or path.parent.is_symlink():
        raise InterpreterError(f"{env}: its pyvenv.cfg or bin is a link")
    base = path.resolve()
    prefix = base.parent.parent
    if base.is_relative_to(env.resolve()):
        raise InterpreterError(f"{python} is not a link to an interpreter outside the environment")
    if any(_writable_by_others(p) for p in (base, base.parent, prefix)):
        raise InterpreterError(f"{base} is writable by another user than root or this worker's")
    return EnvironmentPython(env=str(env), python=str(path), base=str(base), prefix=str(prefix))


def environment_binds(
    found: EnvironmentPython | None, *, configs: Path
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, str], ...]]:
    """The sandbox's read-only binds for a host's interpreter (``found``: a plugin
    environment's, None: this worker's), the folders shown empty, and the files mounted
    over the environment's own. The environment's ``bin`` and ``pyvenv.cfg`` were written
    by its build and the interpreter reads them before the host drops root: the host sees
    the trusted interpreter and a ``pyvenv.cfg`` made here (under ``configs``) instead.
    """
    if found is None:
        return interpreter_paths(), (), ()
    config = venv_config(configs, str(Path(found.base).parent))
    overlays = ((found.base, found.python), (str(config), str(Path(found.env) / "pyvenv.cfg")))
    return environment_paths(found), (str(Path(found.python).parent),), overlays


def environment_paths(found: EnvironmentPython) -> tuple[str, ...]:
    """The folders a host on ``found`` needs bound besides the system's: the environment
    and its base Python's installation (unless a system folder holds it)."""
    system = tuple(Path(p).resolve() for p in SYSTEM_PATHS if os.path.isdir(p))
    prefix = Path(found.prefix)
    inside = any(prefix.resolve().is_relative_to(folder) for folder in system)
    return (found.env,) if inside else tuple(sorted({found.env, found.prefix}))


_sizes: dict[tuple[str, int, int], int] = {}


def folder_size(path: Path) -> int | None:
    """The bytes the files under ``path`` take on disk (a file linked twice counted once);
    None when it is not there. Kept per process while the folder itself is unchanged (a
    plugin environment is never changed once built), so a listing costs one stat."""
    try:
        top = path.stat()
    except OSError:
        return None
    key = (str(path), top.st_ino, top.st_mtime_ns)
    if key not in _sizes:
        seen: set[tuple[int, int]] = set()
        total = 0
        for folder, dirs, files in os.walk(path):
            for name in dirs + files:
                try:
                    info = os.lstat(os.path.join(folder, name))
                except OSError:
                    continue
                if (info.st_dev, info.st_ino) not in seen:
                    seen.add((info.st_dev, info.st_ino))
                    total += info.st_blocks * 512
        _sizes[key] = total
    return _sizes[key]


def size_format(size: int) -> str:
    """``size`` bytes, short (``512K``, ``48.2M``, ``1.5G``), as ``du -h`` writes them."""
    value = float(size)
    for unit in ("B", "K", "M", "G"):
        if value < 1024 or unit == "G":
            return f"{value:.0f}{unit}" if unit in ("B", "K") else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}T"
