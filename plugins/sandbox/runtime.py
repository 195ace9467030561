"""The plugin side of the platform, as a folder of its own that a plugin host imports from.

No Django. A host's ``PYTHONPATH`` is this folder, never the project: a plugin can import
``plugins.api`` and the modules the host itself runs, and nothing else of the platform
(no settings, no broker, no other ``plugins`` module). The folder is a copy of those files,
named by the digest of their content (``<into>/<digest>/plugins/…``), made once per worker
process and shared by every worker on the machine; the first to make it wins, the others
find it. Its bytecode is compiled when it is made, so a host does not compile the modules
again at each start.
"""

from __future__ import annotations

import compileall
import contextlib
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parent.parent.parent
# The modules a plugin host imports (``plugins.sandbox.child`` and what it pulls in), and
# ``plugins.api`` for the plugin. They import only the standard library and each other
# (tests/plugins/test_plugin_runtime.py holds them to it).
HOST_MODULES = (
    "plugins",
    "plugins.api",
    "plugins.arguments",
    "plugins.catalog",
    "plugins.loader",
    "plugins.sandbox",
    "plugins.sandbox.child",
    "plugins.sandbox.codeload",
    "plugins.sandbox.confine",
    "plugins.sandbox.enter",
    "plugins.sandbox.privileges",
    "plugins.sandbox.protocol",
    "plugins.sandbox.runner",
    "plugins.sandbox.serve",
)
# Packages a host may run, copied whole where the project has them.
HOST_PACKAGES = ("plugins.legacy",)
COMPILE_TIMEOUT = 60.0


def runtime_files(source: Path = SOURCE_ROOT) -> list[str]:
    """The runtime's files, relative to ``source`` (the project root), in a stable order."""
    files = []
    for name in HOST_MODULES:
        path = Path(*name.split("."))
        package = source / path / "__init__.py"
        files.append(str(path / "__init__.py") if package.is_file() else f"{path}.py")
    for name in HOST_PACKAGES:
        folder = source / Path(*name.split("."))
        if folder.is_dir():
            files += sorted(str(p.relative_to(source)) for p in folder.rglob("*.py") if "__pycache__" not in p.parts)
    return sorted(set(files))


def runtime_digest(contents: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(contents):
        digest.update(name.encode() + b"\0" + contents[name] + b"\0")
    return digest.hexdigest()[:16]


@functools.cache
def runtime_source(source: Path = SOURCE_ROOT) -> tuple[dict[str, bytes], str]:
    """The runtime's files as this process first read them, and their digest: what its
    hosts get, even after the project on disk changed (a deploy while the worker runs)."""
    contents = {name: (source / name).read_bytes() for name in runtime_files(source)}
    return contents, runtime_digest(contents)


def plugin_runtime(into: Path, source: Path = SOURCE_ROOT) -> Path:
    """The runtime folder for the project at ``source``, made under ``into`` if need be.

    Put it on a host's ``PYTHONPATH`` (and bind it read-only in its sandbox). Each call
    marks the folder used (its mtime), which is what :func:`runtimes_prune` goes by, and
    makes it again should it have been removed.
    """
    contents, digest = runtime_source(source)
    folder = into / digest
    if folder.is_dir():
        with contextlib.suppress(OSError):
            os.utime(folder)
        return folder
    into.mkdir(parents=True, exist_ok=True)
    os.chmod(into, 0o755)  # noqa: S103 - a plugin's uid reads the runtime
    staging = Path(tempfile.mkdtemp(prefix=".new-", dir=into))
    try:
        for name, data in contents.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        compileall.compile_dir(staging, quiet=2)
        _read_only(staging)
        try:
            staging.rename(folder)
        except OSError:
            if not folder.is_dir():  # not another worker that made it first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def runtimes_prune(*, into: Path, keep: Path, grace_seconds: float) -> list[Path]:
    """Remove the runtime folders under ``into`` but ``keep`` that no host started from
    for ``grace_seconds`` (a worker still running older code marks its own at each start,
    and makes it again if it went)."""
    removed: list[Path] = []
    if not into.is_dir():
        return removed
    cutoff = time.time() - grace_seconds
    for folder in into.iterdir():
        if folder == keep or folder.name == "venv-config" or not folder.is_dir():
            continue
        if folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _read_only(folder: Path) -> None:
    """Files read-only for all; folders readable and enterable by all (the plugin's uid)."""
    for path in [folder, *folder.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o444)


@functools.cache
def runtime_compiled_for(runtime: Path, python: str) -> None:
    """Compile ``runtime``'s bytecode for another interpreter too (its own cache tag).

    ``python`` must be a trusted interpreter (a base Python, never a file of a plugin's
    environment): it runs in the worker, isolated (``-I``) and without ``site`` (``-S``).
    Skipped quietly when that fails: the host then compiles in memory, a little slower.
    """
    if Path(python).resolve() == Path(sys.executable).resolve():
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [python, "-S", "-I", "-m", "compileall", "-q", str(runtime)],
            check=False,
            timeout=COMPILE_TIMEOUT,
            capture_output=True,
            env={"PATH": "/usr/bin:/bin"},
        )


@functools.cache
def venv_config(into: Path, home: str) -> Path:
    """A ``pyvenv.cfg`` naming ``home`` (a trusted interpreter's folder), made once.

    A sandboxed host sees it in place of its environment's own, which the environment's
    build could have written: the interpreter reads that file before the host drops root.
    """
    text = f"home = {home}\ninclude-system-site-packages = false\n"
    folder = into / "venv-config"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o755)  # noqa: S103
    path = folder / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.cfg"
    if not path.is_file():
        fd, staging = tempfile.mkstemp(dir=folder, prefix=".new-")
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.chmod(staging, 0o444)
        os.replace(staging, path)
    return path
