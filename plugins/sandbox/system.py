"""What this machine offers a sandboxed plugin host: look-ups only, no Django.

Read once per process: the layout of the system folders (which are symlinks, as ``/lib``
is on a merged-/usr system), the interpreter's folders, whether a tool can be run.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from pathlib import Path

from plugins.sandbox.confine import BASE_ETC, NETWORK_ETC, SYSTEM_PATHS


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
