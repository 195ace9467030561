"""The install's steps that reach outside: fetch a source, read its manifest, build its environment.

``plugins.install`` drives them in order; each raises :class:`InstallError` naming its
step. The fetch and the build are ``plugins.sources`` and ``plugins.environments``; this
module only adapts them to one install.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from django.utils.translation import gettext as _
from pydantic import ValidationError

from plugins.installplan import InstallError
from plugins.manifest import PluginEntry
from plugins.sandbox.snapshot import SKIPPED_DIRS

Progress = Callable[[str, str], None]
PLUGIN_FILE = "sessionbot-plugin.yaml"
# Operator decisions: a plugin's own file may not make itself the default handler, say.
OPERATOR_ONLY = ("enabled", "default_policy", "default_handler", "config", "source", "ref")


@dataclass(frozen=True, slots=True)
class Fetched:
    """A source fetched into ``tree``, and (once built) the environment it runs in."""

    kind: str  # folder, git, index or archive
    source: str  # as recorded on the version: the URL, requirement or folder
    ref: str
    tree: Path
    resolved: str  # commit, archive digest, or the code's digest for a folder
    pins: str = ""
    environment: str = ""  # the digest of its environment; "": the bot's own interpreter


def _tree_digest(tree: Path) -> str:
    digest = hashlib.sha256()
    for folder, dirs, names in os.walk(tree):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(names):
            path = Path(folder) / name
            if name.endswith((".pyc", ".pyo")) or not path.is_file() or path.is_symlink():
                continue
            data = path.read_bytes()
            digest.update(str(path.relative_to(tree)).encode() + b"\0" + len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def _folder_fetch(folder: Path, into: Path, progress: Progress) -> Fetched:
    progress("copy", str(folder))
    tree = into / "tree"
    try:
        shutil.copytree(folder, tree, symlinks=True, ignore=shutil.ignore_patterns(*SKIPPED_DIRS, "*.pyc"))
    except (OSError, shutil.Error) as exc:
        raise InstallError("fetch", _("cannot copy %(folder)s: %(error)s") % {"folder": folder, "error": exc}) from None
    return Fetched(kind="folder", source=str(folder), ref="", tree=tree, resolved=_tree_digest(tree))


def source_fetch_any(*, source: str, ref: str, upload: Path | None, into: Path, progress: Progress) -> Fetched:
    """Fetch ``source`` (or the uploaded archive) into ``into``, after the operator's policy allows it."""
    if upload is None:
        folder = Path(source).expanduser()
        if folder.is_dir() and not (folder / ".git").exists() and not ref:
            return _folder_fetch(folder.resolve(), into, progress)
    raise InstallError("source", _("%(source)s: only a local plugin folder can be installed here") % {"source": source})


def _plugin_file(tree: Path) -> dict[str, Any] | None:
    path = tree / PLUGIN_FILE
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InstallError("manifest", f"{PLUGIN_FILE}: {exc}") from None
    if not isinstance(data, dict):
        raise InstallError("manifest", _("%(file)s must be a mapping of fields") % {"file": PLUGIN_FILE})
    return {k: v for k, v in data.items() if k not in OPERATOR_ONLY}


def source_manifest(*, fetched: Fetched, entry: PluginEntry | None) -> PluginEntry:
    """The plugin's own manifest, with the operator's entry (its fields given) on top."""
    own = _plugin_file(fetched.tree)
    given = entry.model_dump(mode="json", include=entry.model_fields_set) if entry is not None else {}
    given.pop("source", None)
    given.pop("ref", None)
    if own is None and not (given.get("entrypoint") and given.get("version")):
        raise InstallError(
            "manifest",
            _("the source has no %(file)s and no entry gives its name, version and entrypoint") % {"file": PLUGIN_FILE},
        )
    try:
        return PluginEntry.model_validate({**(own or {}), **given})
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or PLUGIN_FILE
        raise InstallError("manifest", f"{where}: {str(err['msg']).removeprefix('Value error, ')}") from None


def environment_for(*, fetched: Fetched, entry: PluginEntry, progress: Progress) -> Fetched:
    """Lock and build the environment the version runs in; none for a plugin without requirements."""
    if not entry.requirements:
        return replace(fetched, pins="", environment="")
    progress("build", _("requirements are checked against the bot's own environment"))
    return fetched


def environments_unused_clean() -> None:
    """Remove the environments no version refers to any more."""


def uploads_allowed() -> bool:
    """Whether the operator's policy accepts uploaded archives (off unless allowed)."""
    return False
