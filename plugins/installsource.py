"""The install's steps that reach outside: fetch a source, read its manifest, build its environment.

``plugins.install`` drives them in order; each raises :class:`InstallError` naming its
step. Fetching is ``plugins.sources`` (after the operator's ``plugin_sources`` policy),
the environment ``plugins.environments``; this module adapts them to one install.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _
from packaging.requirements import Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from plugins.archives import archive_keep
from plugins.environments.build import environment_build, project_distribution, requirements_lock
from plugins.environments.core import BuildError, PinsError, pins_parse
from plugins.environments.store import environment_path
from plugins.installplan import InstallError
from plugins.legacy.adapter import PLUGIN_CLASS
from plugins.legacyinstall.entries import LegacyPin, LegacyTreeError, Origin, legacy_environment, legacy_tree_pin
from plugins.manifest import PluginEntry
from plugins.sources.active import build_indexes, source_cache, source_policy
from plugins.sources.fetch import source_fetch
from plugins.sources.pluginfile import (
    PluginFile,
    PluginFileError,
    legacy_layout,
    legacy_plugin_class,
    plugin_file_read,
)
from plugins.sources.policy import source_refusal
from plugins.sources.spec import Source, SourceError, source_parse, source_text, source_upload

Progress = Callable[[str, str], None]
PLUGIN_FILE = "sessionbot-plugin.yaml"


@dataclass(frozen=True, slots=True)
class Fetched:
    """A source fetched into ``tree``, and (once built) the environment it runs in."""

    kind: str  # folder, git, index or archive
    source: str  # as recorded on the version: the URL, requirement or folder
    ref: str
    tree: Path
    resolved: str  # commit, archive digest, the code's digest (folder) or the version (index)
    archive: Path | None = None  # a wheel: installed into the environment with its requirements
    pins: str = ""
    environment: str = ""  # the digest of its environment; "": the bot's own interpreter


def _parsed(source: str, ref: str, upload: Path | None) -> Source:
    try:
        parsed = source_upload(str(upload)) if upload is not None else source_parse(source, ref=ref)
    except SourceError as exc:
        raise InstallError("source", str(exc)) from None
    refusal = source_refusal(parsed, source_policy())
    if refusal:
        raise InstallError("source", _(refusal.text) % refusal.params)
    return parsed


def _fetch_step(parsed: Source, message: str) -> str:
    if parsed.kind == "git":
        return "resolve" if message.startswith("the repository has no") else "clone"
    return "download" if parsed.location.startswith(("https://", "http://")) else "fetch"


def source_indexes(parsed: Source | None = None) -> tuple[str | None, list[str]]:
    """The index uv resolves from (None: the find-links alone) and the find-links."""
    try:
        return build_indexes(parsed.index if parsed is not None else "")
    except SourceError as exc:
        raise InstallError("source", str(exc)) from None


def _built(
    requirements: Sequence[str], project: Path | None, parsed: Source | None, progress: Progress
) -> tuple[str, str]:
    """Lock and build: (pins, environment digest), ('', '') when there is nothing to install."""
    index_url, find_links = source_indexes(parsed)
    try:
        pins = requirements_lock(
            requirements=requirements, project=project, index_url=index_url, find_links=find_links, progress=progress
        )
        if not pins_parse(pins):
            return "", ""
        built = environment_build(
            pins=pins, project=project, index_url=index_url, find_links=find_links, progress=progress
        )
    except BuildError as exc:
        raise InstallError(exc.step, exc.message) from None
    except PinsError as exc:
        raise InstallError("resolve", str(exc)) from None
    return pins, built.digest


def code_roots(tree: Path) -> list[Path]:
    """Where the plugin's top package may sit in its tree: the top, or a ``src`` layout."""
    return [p for p in (tree, tree / "src") if p.is_dir()]


def environment_site_packages(environment: str) -> Path:
    """The site-packages folder of environment ``environment`` on this machine."""
    env = environment_path(environment)
    found = sorted(env.glob("lib/python*/site-packages"))
    if not found:
        raise InstallError("build", _("the environment has no site-packages folder"))
    return found[0]


def _index_fetch(parsed: Source, progress: Progress) -> Fetched:
    """A requirement: its environment is built first, and the plugin is read from it."""
    pins, environment = _built([parsed.location], None, parsed, progress)
    if not environment:
        raise InstallError("resolve", _("%(source)s resolved to nothing") % {"source": parsed.location})
    name = canonicalize_name(Requirement(parsed.location).name)
    version = next((p.version for p in pins_parse(pins) if p.name == name), "")
    return Fetched(
        kind="index",
        source=source_text(parsed),
        ref="",
        tree=environment_site_packages(environment),
        resolved=version,
        pins=pins,
        environment=environment,
    )


def source_fetch_any(
    *, source: str, ref: str, upload: Path | None, into: Path, progress: Progress, commit: str = ""
) -> Fetched:
    """Fetch ``source`` (or the uploaded archive) into ``into``, after the operator's policy allows it.

    ``commit``: fetch a git source at this commit, whatever ref it names (a version being
    set up on another machine).
    """
    parsed = _parsed(source, "" if commit else ref, upload)
    if commit and parsed.kind == "git":
        parsed = replace(parsed, ref=commit)
    if parsed.kind == "index":
        return _index_fetch(parsed, progress)
    try:
        got = source_fetch(parsed, into=into / "fetch", progress=progress, cache=source_cache())
    except SourceError as exc:
        raise InstallError(_fetch_step(parsed, str(exc)), str(exc)) from None
    assert got.tree is not None
    if got.archive is not None and not parsed.location.startswith(("https://", "http://")):
        archive_keep(path=got.archive)  # no other machine can fetch it: they take it from here
    recorded = upload.name if upload is not None else source_text(parsed)
    archive = got.archive if got.archive is not None and got.archive.name.endswith(".whl") else None
    return Fetched(
        kind=parsed.kind, source=recorded, ref=parsed.ref, tree=got.tree, resolved=got.resolved, archive=archive
    )


def source_plugin_file(fetched: Fetched) -> PluginFile | None:
    """The plugin's own manifest in the fetched tree; None when it has none."""
    try:
        return plugin_file_read(fetched.tree)
    except PluginFileError as exc:
        raise InstallError("manifest", str(exc)) from None


def _given(entry: PluginEntry | None) -> dict[str, Any]:
    """The fields the operator's entry sets (its ``env:`` too), but not where the code comes from."""
    if entry is None:
        return {}
    given = entry.model_dump(mode="json", include=entry.model_fields_set)
    given.pop("source", None)
    given.pop("ref", None)
    if "env" in entry.model_fields_set:
        given["env"] = dict(entry.env)
    return given


def source_manifest(*, own: PluginFile | None, entry: PluginEntry | None) -> PluginEntry:
    """The plugin's own manifest ``own``, with the operator's entry (its fields given) on top."""
    given = _given(entry)
    if own is None and not (given.get("entrypoint") and given.get("version")):
        raise InstallError(
            "manifest",
            _("the source has no %(file)s and no entry gives its name, version and entrypoint") % {"file": PLUGIN_FILE},
        )
    # What the author wrote (its queue and health check too); the operator's fields win.
    base = own.entry_fields() if own is not None else {}
    try:
        return PluginEntry.model_validate({**base, **given})
    except ValueError as exc:
        raise InstallError("manifest", str(exc).splitlines()[-1] if str(exc) else PLUGIN_FILE) from None


def source_older(
    *, fetched: Fetched, own: PluginFile | None, entry: PluginEntry | None, progress: Progress
) -> LegacyPin | None:
    """A source without a manifest, read as an older bot's plugin: pinned, its environment built.

    None when the tree has a manifest (``own``), or the operator's entry gives version and entrypoint
    (:func:`source_manifest` reads those). The result is what ``importplugins`` makes of the
    older bot's plugins.yaml entry for it: its module's name is the plugin's, its prefix
    words become commands, its setup.py requirements go into an environment of its own.
    """
    given = _given(entry)
    if own is not None or (given.get("entrypoint") and given.get("version")):
        return None
    name = str(given.get("name", ""))
    module = legacy_layout(fetched.tree, name=name)
    if module is None or not legacy_plugin_class(fetched.tree, module, name=PLUGIN_CLASS):
        raise InstallError(
            "manifest",
            _(
                "the source has no %(file)s and is no older bot's plugin either (a module <name>/<name>.py "
                "with a %(cls)s class); add a %(file)s"
            )
            % {"file": PLUGIN_FILE, "cls": PLUGIN_CLASS},
        )
    progress(
        "manifest",
        _("no %(file)s: reading %(module)s as an older bot's plugin") % {"file": PLUGIN_FILE, "module": module},
    )
    origin = Origin(kind=fetched.kind, source=fetched.source, resolved=fetched.resolved)
    try:
        return legacy_tree_pin(
            tree=fetched.tree, origin=origin, name=module, given=given, shown=fetched.source, environment=False
        )
    except LegacyTreeError as exc:
        raise InstallError(exc.step, exc.reason if exc.field == "url" else str(exc)) from None


def older_environment_for(*, fetched: Fetched, older: LegacyPin, progress: Progress) -> Fetched:
    """Build the environment of an older bot's plugin (its setup.py requirements), as
    :func:`environment_for` builds a plugin's with a manifest."""
    try:
        origin = legacy_environment(
            tree=fetched.tree, origin=older.origin, requirements=older.entry.requirements, progress=progress
        )
    except LegacyTreeError as exc:
        raise InstallError(exc.step, exc.reason) from None
    return replace(fetched, pins=origin.pins, environment=origin.environment)


def environment_for(*, fetched: Fetched, entry: PluginEntry, progress: Progress) -> Fetched:
    """Lock and build the environment the version runs in; none for a plugin without requirements.

    The project (a pyproject.toml, setup.py or setup.cfg in the tree) brings its declared
    requirements; a wheel is installed with its own.
    """
    if fetched.environment:
        return fetched  # built to fetch it (an index requirement)
    requirements = list(entry.requirements)
    project: Path | None = fetched.tree if project_distribution(fetched.tree) is not None else None
    if fetched.archive is not None:
        try:
            name = parse_wheel_filename(fetched.archive.name)[0]
        except InvalidWheelFilename as exc:
            raise InstallError("fetch", str(exc)) from None
        requirements.append(f"{name} @ {fetched.archive.resolve().as_uri()}")
        project = None
    if not requirements and project is None:
        return replace(fetched, pins="", environment="")
    pins, environment = _built(requirements, project, None, progress)
    return replace(fetched, pins=pins, environment=environment)


def uploads_allowed() -> bool:
    """Whether the operator's policy accepts uploaded archives."""
    return source_policy().uploads
