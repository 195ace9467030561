"""Bring the older bot's plugins.yaml entries in: fetch each plugin's tree, name its version, pin it.

The older file (``plugins.legacyinstall.oldformat``) names a folder or a git URL per plugin and
no version, entrypoint or command. For each entry this fetches the tree (a folder is read
where it is; a git URL is cloned at its default branch), reads its setup.py or
pyproject.toml without running it (``plugins.legacyinstall.setupinfo``), pins the whole tree
(``plugins.legacyinstall.tree``) and makes the entry of this bot's format that the import goes
on with: version, entrypoint ``<name>:Plugin``, API ``legacy``, the requirements of its
setup.py. Nothing of the plugin runs here; its code is loaded later in a plugin host.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from plugins.legacy.adapter import PLUGIN_CLASS
from plugins.legacyinstall.oldformat import LegacyEntry
from plugins.legacyinstall.setupinfo import ProjectInfo, legacy_version, project_merge, pyproject_read, setup_py_read
from plugins.legacyinstall.tree import legacy_snapshot_take
from plugins.manifest import Manifest, ManifestError, PluginEntry
from plugins.models import PluginApi, SourceKind
from plugins.sandbox.snapshot import Snapshot, SnapshotError
from plugins.snapshots import code_store

GIT_SECONDS = 300


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a version's code came from, as its row records it."""

    kind: str
    source: str
    resolved: str


@dataclass(frozen=True, slots=True)
class LegacyPin:
    """One older-bot plugin ready for the import: its entry, pinned code and origin."""

    entry: PluginEntry
    checksum: str
    code: Snapshot
    origin: Origin


def _is_git(url: str) -> bool:
    """A URL is cloned; a path (absolute, or relative to the project) is a folder, as in the older bot."""
    return url.startswith(("https://", "http://", "ssh://", "git://", "file://", "git@"))


def _project(tree: Path) -> ProjectInfo:
    found = []
    for name, read in (("pyproject.toml", pyproject_read), ("setup.py", setup_py_read)):
        path = tree / name
        if path.is_file():
            try:
                found.append(read(path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError):
                continue
    return project_merge(*found)


@contextmanager
def _scratch() -> Iterator[Path]:
    parent = Path(settings.DATA_DIR) / "plugin-fetch"
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=parent))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _git(*args: str, cwd: Path | None = None) -> str:
    # No hooks, no credential prompts, no system or user config: a clone runs nothing of the plugin's.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
    env["HOME"] = str(cwd or Path(settings.DATA_DIR))
    done = subprocess.run(
        ["git", "-c", "core.hooksPath=/dev/null", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=GIT_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        raise OSError((done.stderr.strip().splitlines() or ["git failed"])[-1])
    return done.stdout.strip()


def _git_fetch(url: str, into: Path) -> tuple[Path, str]:
    """Clone ``url`` (its default branch) into ``into``; the tree and the commit it resolved to."""
    tree = into / "tree"
    _git("clone", "--quiet", "--depth", "1", "--no-tags", "--", url, str(tree))
    return tree, _git("rev-parse", "HEAD", cwd=tree)


def _folder(url: str) -> Path:
    """A folder url; a relative one is read from the project's folder, where the older bot ran."""
    path = Path(url).expanduser()
    return path if path.is_absolute() else Path(settings.BASE_DIR) / path


def _fields(entry: LegacyEntry, project: ProjectInfo, version: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": entry.name,
        "version": version,
        "entrypoint": f"{entry.name}:{PLUGIN_CLASS}",
        "enabled": entry.enabled,
        "requirements": list(project.requirements),
        "isolation": "host",
        "api": PluginApi.LEGACY.value,
    }
    if entry.env is not None and "env" in PluginEntry.model_fields:
        fields["env"] = entry.env  # stored as the plugin's secrets by the import
    return fields


def _pin(file: str, entry: LegacyEntry, tree: Path, origin: Origin) -> LegacyPin:
    def error(reason: str) -> ManifestError:
        return ManifestError(file=file, index=entry.index, name=entry.name, field="url", reason=reason)

    if not ((tree / entry.name).is_dir() or (tree / f"{entry.name}.py").is_file()):
        raise error(f"{entry.url} has no module {entry.name} (neither {entry.name}/ nor {entry.name}.py)")
    project = _project(tree)
    version = legacy_version(declared=project.version, resolved=origin.resolved, commit=origin.kind == SourceKind.GIT)
    try:
        code = legacy_snapshot_take(plugin=entry.name, module=entry.name, tree=tree, store=code_store())
    except SnapshotError as exc:
        raise error(str(exc)) from None
    fields = _fields(entry, project, version)
    try:
        pinned = PluginEntry.model_validate(fields)
    except ValueError as exc:
        raise error(str(exc)) from None
    if origin.kind != SourceKind.GIT:
        origin = Origin(kind=origin.kind, source=origin.source, resolved=code.digest)
    stamp = json.dumps([pinned.model_dump(mode="json"), code.digest, origin.source], sort_keys=True)
    return LegacyPin(entry=pinned, checksum=hashlib.sha256(stamp.encode()).hexdigest(), code=code, origin=origin)


def legacy_entry_pin(*, file: str, entry: LegacyEntry) -> LegacyPin:
    """Fetch and pin one older-bot entry; ManifestError (file, entry, ``url``) when it cannot be."""
    if _is_git(entry.url):
        with _scratch() as work:
            try:
                tree, commit = _git_fetch(entry.url, work)
            except (OSError, subprocess.SubprocessError) as exc:
                reason = f"cannot clone {entry.url}: {exc}"
                raise ManifestError(file=file, index=entry.index, name=entry.name, field="url", reason=reason) from None
            return _pin(file, entry, tree, Origin(kind=SourceKind.GIT, source=entry.url, resolved=commit))
    folder = _folder(entry.url)
    if not folder.is_dir():
        reason = f"{folder} is not a folder (nor a git URL)"
        raise ManifestError(file=file, index=entry.index, name=entry.name, field="url", reason=reason)
    tree = folder.resolve()
    return _pin(file, entry, tree, Origin(kind=SourceKind.FOLDER, source=str(tree), resolved=""))


def legacy_manifest_pin(*, manifest: Manifest) -> tuple[Manifest, dict[str, LegacyPin]]:
    """The older file's entries as this bot's (same file, new entries), and each one's pin."""
    pins = {e.name: legacy_entry_pin(file=manifest.file, entry=e) for e in manifest.legacy}
    entries = tuple(pin.entry for pin in pins.values())
    return Manifest(file=manifest.file, plugins=entries, notices=manifest.notices), pins
