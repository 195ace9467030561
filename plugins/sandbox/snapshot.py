"""Pinned plugin code: content-addressed copies of a plugin's top-level package or module.

Hosts and inline imports load a plugin from its snapshot, never from the live plugin root,
so code that breaks on disk after a good load never starts serving, and every version
keeps the exact code it was loaded with. Pure module (no Django).

Layout: ``<store>/<plugin>/<sha256>/<top>`` where ``<top>`` is the package folder (or the
``.py`` file) the entrypoint's first dotted name resolves to inside its plugin root. The
digest covers relative paths and contents, so the same code has the same digest on every
machine. Snapshots are read-only for everyone but their owner: a plugin cannot edit its
own pinned code.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from importlib.machinery import PathFinder
from pathlib import Path

from plugins.entrypoints import EntrypointError, entrypoint_file

SKIPPED_DIRS = {"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
MAX_BYTES = 64 * 1024 * 1024


class SnapshotError(Exception):
    """The plugin's code cannot be pinned (not found, outside its root, too big)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    digest: str
    root: Path  # the folder to put on sys.path


def top_source(*, entrypoint: str, roots: Sequence[Path]) -> tuple[Path, Path]:
    """The plugin root and the package folder or module file of the entrypoint's top name."""
    module_file = entrypoint_file(entrypoint=entrypoint, roots=roots)
    top = entrypoint.partition(":")[0].split(".")[0]
    for root in roots:
        spec = PathFinder.find_spec(top, [str(root)])
        if spec is None or not spec.origin:
            continue
        origin = Path(spec.origin).resolve()
        source = origin.parent if spec.submodule_search_locations is not None else origin
        if source.is_relative_to(root.resolve()) and module_file.is_relative_to(source if source.is_dir() else origin):
            return root.resolve(), source
    raise EntrypointError(f"{top} is not a package or module inside the plugin roots")


def _files(source: Path, top: str = "") -> list[tuple[str, Path]]:
    """(relative path, file) pairs to pin, sorted; links leading outside the source are left out.

    The paths start with ``top`` (the folder's own name unless given).
    """
    if source.is_file():
        # A one-module plugin's translations (plugins.catalog) are pinned with it.
        catalog = source.with_suffix(".docs.json")
        return [(p.name, p) for p in (source, catalog) if p.is_file()]
    inside = source.resolve()
    found = []
    for folder, dirs, names in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in names:
            path = Path(folder) / name
            if name.endswith((".pyc", ".pyo")) or not path.is_file():
                continue
            if not path.resolve().is_relative_to(inside):
                continue
            found.append((str(Path(top or source.name) / path.relative_to(source)), path))
    return sorted(found)


def files_read(files: list[tuple[str, Path]]) -> tuple[str, list[tuple[str, bytes]]]:
    """The digest of ``files`` (relative path, file) and their contents; SnapshotError past the size limit."""
    digest = hashlib.sha256()
    contents, total = [], 0
    for rel, path in files:
        data = path.read_bytes()
        total += len(data)
        if total > MAX_BYTES:
            raise SnapshotError(f"the plugin's code is larger than {MAX_BYTES // (1024 * 1024)} MB")
        digest.update(rel.encode() + b"\0" + len(data).to_bytes(8, "big") + data)
        contents.append((rel, data))
    return digest.hexdigest(), contents


def snapshot_path(*, store: Path, plugin: str, digest: str) -> Path:
    return store / plugin / digest


def _write(target: Path, contents: list[tuple[str, bytes]], links: Mapping[str, str]) -> None:
    """Write the files (and ``links``: relative path to target) into a private folder, then
    rename it into place (atomic)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(target.parent, 0o755)  # noqa: S103 - the host user reads the code, never writes it
    work = Path(tempfile.mkdtemp(prefix=".new-", dir=target.parent))
    try:
        for rel, data in contents:
            path = work / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            os.chmod(path, 0o644)
        for rel, link in links.items():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(link, work / rel)
        for folder, _dirs, _names in os.walk(work):
            os.chmod(folder, 0o755)  # noqa: S103 - as above
        os.rename(work, target)
    except OSError:
        shutil.rmtree(work, ignore_errors=True)
        if not target.is_dir():  # another process may have written the same digest first
            raise


def snapshot_take(*, plugin: str, entrypoint: str, roots: Sequence[Path], store: Path) -> Snapshot:
    """Pin the code the entrypoint resolves to now; the same code gives the same snapshot."""
    try:
        _root, source = top_source(entrypoint=entrypoint, roots=roots)
        digest, contents = files_read(_files(source))
    except (EntrypointError, OSError) as exc:
        raise SnapshotError(str(exc)) from None
    return snapshot_write(store=store, plugin=plugin, digest=digest, contents=contents)


def tree_files(*, source: Path, top: str) -> list[tuple[str, Path]]:
    """The files of folder ``source`` to pin, their paths starting with ``top``; OSError if unreadable."""
    return _files(source, top)


def snapshot_write(
    *, store: Path, plugin: str, digest: str, contents: list[tuple[str, bytes]], links: Mapping[str, str] | None = None
) -> Snapshot:
    """Store ``contents`` (relative path, bytes) and ``links`` as snapshot ``digest`` of ``plugin``."""
    target = snapshot_path(store=store, plugin=plugin, digest=digest)
    try:
        if target.is_dir():
            os.utime(target)  # in use again: not a candidate for pruning
        else:
            _write(target, contents, links or {})
    except OSError as exc:
        raise SnapshotError(f"cannot write the snapshot {target}: {exc.strerror or exc}") from None
    return Snapshot(digest=digest, root=target)


def snapshot_find(*, store: Path, plugin: str, digest: str) -> Snapshot | None:
    target = snapshot_path(store=store, plugin=plugin, digest=digest)
    return Snapshot(digest=digest, root=target) if target.is_dir() else None


def snapshot_retire(*, store: Path, plugin: str, digest: str) -> None:
    """Note that no version refers to this snapshot any more: pruning counts from now."""
    target = snapshot_path(store=store, plugin=plugin, digest=digest)
    if target.is_dir():
        os.utime(target)


def snapshots_prune(*, store: Path, keep: Collection[tuple[str, str]], grace_seconds: float) -> list[Path]:
    """Remove snapshots not in ``keep`` ((plugin, digest) pairs) unused for ``grace_seconds``.

    The grace period lets an invocation that started on an old snapshot finish, even if it
    imports a submodule late.
    """
    removed: list[Path] = []
    if not store.is_dir():
        return removed
    cutoff = time.time() - grace_seconds
    for plugin_dir in store.iterdir():
        if not plugin_dir.is_dir():
            continue
        for snap in plugin_dir.iterdir():
            if (plugin_dir.name, snap.name) in keep or snap.stat().st_mtime > cutoff:
                continue
            shutil.rmtree(snap, ignore_errors=True)
            removed.append(snap)
        if not any(plugin_dir.iterdir()):
            plugin_dir.rmdir()
    return removed
