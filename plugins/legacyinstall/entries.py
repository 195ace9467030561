"""Bring the older bot's plugins.yaml entries in: fetch each plugin's tree, name its version, pin it.

The older file (``plugins.legacyinstall.oldformat``) names a folder or a git URL per plugin and
no version, entrypoint or command. For each entry this fetches the tree (a folder is read
where it is; a git URL is cloned at its default branch by ``plugins.sources``, as the
operator's ``plugin_sources`` allow), reads its setup.py or
pyproject.toml without running it (``plugins.legacyinstall.setupinfo``), pins the whole tree
(``plugins.legacyinstall.tree``) and makes the entry of this bot's format that the import goes
on with: version, entrypoint ``<name>:Plugin``, API ``legacy``, the requirements of its
setup.py. Nothing of the plugin runs here; its code is loaded later in a plugin host.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from django.conf import settings
from pydantic import ValidationError

from plugins.environments.build import environment_build, requirements_lock
from plugins.environments.core import BuildError
from plugins.legacy.adapter import PLUGIN_CLASS
from plugins.legacyinstall.oldformat import LegacyEntry
from plugins.legacyinstall.setupinfo import ProjectInfo, legacy_version, project_merge, pyproject_read, setup_py_read
from plugins.legacyinstall.tree import legacy_snapshot_take
from plugins.manifest import Manifest, ManifestError, PluginEntry
from plugins.models import PluginApi, SourceKind
from plugins.sandbox.snapshot import Snapshot, SnapshotError
from plugins.snapshots import code_store
from plugins.sources.active import build_indexes, fetch_scratch, source_cache, source_policy
from plugins.sources.fetch import source_fetch
from plugins.sources.pluginfile import legacy_layout
from plugins.sources.policy import source_refusal
from plugins.sources.spec import Source, SourceError, source_parse

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a version's code came from and the environment built for it, as its row records them."""

    kind: str
    source: str
    resolved: str
    pins: str = ""
    environment: str = ""  # "": the bot's own interpreter (a plugin that requires nothing)


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


def _folder(url: str) -> Path:
    """A folder url; a relative one is read from the project's folder, where the older bot ran."""
    path = Path(url).expanduser()
    return path if path.is_absolute() else Path(settings.BASE_DIR) / path


class LegacyTreeError(ValueError):
    """A tree that cannot be pinned as an older-bot plugin; ``field`` names the entry's field."""

    def __init__(self, field: str, reason: str, *, step: str = "manifest") -> None:
        self.field, self.reason, self.step = field, reason, step  # step: the install's (build…)
        super().__init__(f"{field}: {reason}")


def _fields(name: str, project: ProjectInfo, version: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "entrypoint": f"{name}:{PLUGIN_CLASS}",
        "requirements": list(project.requirements),
        "isolation": "host",
        "api": PluginApi.LEGACY.value,
    }


def legacy_tree_pin(
    *,
    tree: Path,
    origin: Origin,
    name: str,
    given: Mapping[str, Any] | None = None,
    shown: str = "",
    progress: Callable[[str, str], None] | None = None,
    environment: bool = True,
) -> LegacyPin:
    """Pin ``tree`` as an older bot's plugin: its module, version, code and environment.

    ``name``: the module to import (the older file's ``name``). ``given``: the operator's
    fields, on top of what the tree says (``enabled``, ``env``, a queue…). ``shown``: the
    source, as error messages name it; ``progress``: told each step of the build.
    Its setup.py requirements are built into an environment of its own, as the older bot's
    ``pip install -e`` did into its own; with ``environment`` False the caller builds it
    (:func:`legacy_environment`). Raises :class:`LegacyTreeError`.
    """
    module = legacy_layout(tree, name=name)
    where = shown or str(tree)
    if module is None:
        raise LegacyTreeError("url", f"{where} has no module {name} ({name}/{name}.py, {name}/ or {name}.py)")
    project = _project(tree)
    version = legacy_version(declared=project.version, resolved=origin.resolved, commit=origin.kind == SourceKind.GIT)
    try:
        code = legacy_snapshot_take(plugin=module, module=module, tree=tree, store=code_store())
    except SnapshotError as exc:
        raise LegacyTreeError("url", str(exc)) from None
    try:
        pinned = PluginEntry.model_validate({**_fields(module, project, version), **(given or {})})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"]) or "url"
        raise LegacyTreeError(field, str(first["msg"]).removeprefix("Value error, ")) from None
    if origin.kind != SourceKind.GIT:
        origin = replace(origin, resolved=code.digest)
    if environment:
        origin = legacy_environment(
            tree=tree, origin=origin, requirements=pinned.requirements, progress=progress or _progress
        )
    # The environment follows from the requirements (in the entry): not part of the stamp, so a
    # version is the same whether its environment was built before or after it was planned.
    stamp = json.dumps([pinned.model_dump(mode="json"), code.digest, origin.source])
    return LegacyPin(entry=pinned, checksum=hashlib.sha256(stamp.encode()).hexdigest(), code=code, origin=origin)


def _pin(file: str, entry: LegacyEntry, tree: Path, origin: Origin) -> LegacyPin:
    given: dict[str, Any] = {"enabled": entry.enabled}
    if entry.env is not None:
        given["env"] = entry.env  # the older list of one-key maps: stored as the plugin's secrets
    try:
        return legacy_tree_pin(tree=tree, origin=origin, name=entry.name, given=given, shown=entry.url)
    except LegacyTreeError as exc:
        reason = exc.reason if exc.step == "manifest" else f"{exc.step}: {exc.reason}"
        raise ManifestError(file=file, index=entry.index, name=entry.name, field=exc.field, reason=reason) from None


def legacy_environment(
    *, tree: Path, origin: Origin, requirements: Sequence[str], progress: Callable[[str, str], None]
) -> Origin:
    """Lock and build the environment of the tree's project (its setup.py requirements), as
    the older bot's ``pip install -e`` did, but into an environment of its own; none when it
    requires nothing (``requirements``: its entry's, read from setup.py when it was pinned).
    Raises :class:`LegacyTreeError` naming the build's step."""
    if not requirements:
        return origin
    try:
        index_url, find_links = build_indexes()
    except SourceError as exc:
        raise LegacyTreeError("url", str(exc), step="source") from None
    try:
        pins = requirements_lock(
            requirements=(), project=tree, index_url=index_url, find_links=find_links, progress=progress
        )
        built = environment_build(
            pins=pins, project=tree, index_url=index_url, find_links=find_links, progress=progress
        )
    except BuildError as exc:
        raise LegacyTreeError("url", exc.message, step=exc.step) from None
    return replace(origin, pins=pins, environment=built.digest)


def _progress(step: str, line: str) -> None:
    log.info("importplugins %s: %s", step, line)


def _source(entry: LegacyEntry) -> Source:
    """A URL is fetched (cloned, or an archive downloaded); a path is a folder, as the older bot read it."""
    if _is_git(entry.url):
        return source_parse(entry.url)
    folder = _folder(entry.url)
    if not folder.is_dir():
        raise SourceError(f"{folder} is not a folder (nor a git URL)")
    return Source("folder", str(folder.resolve()))


def legacy_entry_pin(*, file: str, entry: LegacyEntry) -> LegacyPin:
    """Fetch and pin one older-bot entry; ManifestError (file, entry, ``url``) when it cannot be.

    The operator's ``plugin_sources`` (config.yaml) decides which URLs and folders may be used.
    """

    def error(reason: str) -> ManifestError:
        return ManifestError(file=file, index=entry.index, name=entry.name, field="url", reason=reason)

    try:
        source = _source(entry)
    except SourceError as exc:
        raise error(str(exc)) from None
    refusal = source_refusal(source, source_policy())
    if refusal:
        raise error(str(refusal))
    if source.kind == "folder":
        return _pin(
            file, entry, Path(source.location), Origin(kind=SourceKind.FOLDER, source=source.location, resolved="")
        )
    if source.kind not in ("git", "archive"):
        raise error(f"{entry.url} is neither a folder nor a git URL")
    with fetch_scratch() as work:
        try:
            fetched = source_fetch(source, into=work / "fetched", progress=_progress, cache=source_cache())
        except SourceError as exc:
            raise error(f"cannot fetch {entry.url}: {exc}") from None
        assert fetched.tree is not None  # git and archives have a tree
        return _pin(file, entry, fetched.tree, Origin(kind=source.kind, source=entry.url, resolved=fetched.resolved))


def legacy_manifest_pin(*, manifest: Manifest) -> tuple[Manifest, dict[str, LegacyPin]]:
    """The older file's entries as this bot's (same file, new entries), and each one's pin."""
    pins = {e.name: legacy_entry_pin(file=manifest.file, entry=e) for e in manifest.legacy}
    entries = tuple(pin.entry for pin in pins.values())
    return Manifest(file=manifest.file, plugins=entries, notices=manifest.notices), pins
