"""The older bot's ``data/plugins.yaml``, read as it is. Pure: no Django, no I/O.

Its entries have ``name``, ``package``, ``url`` (a folder or a git URL), ``enabled`` and
``env`` (a list of one-key maps), and no ``version`` or ``entrypoint``. The same name may
appear twice: the later entry wins. :func:`legacy_translate` turns each entry into the
fields of this bot's entry and says, in one line per field, what is read differently;
nothing it reads differently refuses the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from plugins.manifest import ManifestError

OLD_FIELDS = ("name", "package", "url", "enabled", "env")
NEW_ONLY = ("version", "entrypoint")
MODULE = re.compile(r"[a-z_][a-z0-9_]{0,63}")

# One line per field read differently, shown once per file whichever entries have it.
NOTICES = {
    "url": "url: installed into an environment of its own (with its setup.py requirements), "
    "not into the bot's, and pinned to the commit or files it resolved to",
    "env": "env: stored as this plugin's secrets, given to its host only (never to other plugins or the worker)",
    "package": "package: not needed; the plugin's own setup.py names its distribution",
    "network": "network: the older format cannot say; these plugins start without network access "
    "(allow it per version in the admin)",
}


@dataclass(frozen=True, slots=True)
class LegacyEntry:
    """One plugin of the older file: the entry that wins for its name."""

    index: int  # its position in the file, from 0
    name: str
    url: str
    enabled: bool = True
    package: str = ""
    env: Any = None  # as written; checked and stored as secrets by the importer


@dataclass(frozen=True, slots=True)
class LegacyFile:
    entries: tuple[LegacyEntry, ...]
    notices: tuple[str, ...]


def legacy_format_is(entries: Sequence[object]) -> bool:
    """Whether ``entries`` are the older bot's: none has a version or an entrypoint, some a url or package."""
    maps = [e for e in entries if isinstance(e, Mapping)]
    if not maps or any(field in e for e in maps for field in NEW_ONLY):
        return False
    return any("url" in e or "package" in e for e in maps)


def _entry(file: str, index: int, raw: object) -> LegacyEntry:
    if not isinstance(raw, Mapping):
        raise ManifestError(file=file, index=index, reason="an entry must be a mapping of fields")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ManifestError(file=file, index=index, field="name", reason="this field is required")

    def error(field: str, reason: str) -> ManifestError:
        return ManifestError(file=file, index=index, name=name, field=field, reason=reason)

    if not MODULE.fullmatch(name):
        raise error("name", "an older-bot plugin is imported by its name: lower-case letters, digits and _")
    url = raw.get("url")
    if not isinstance(url, str) or not url.strip():
        raise error("url", "this field is required (a folder or a git URL)")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise error("enabled", "must be true or false")
    package = raw.get("package") or ""
    env = raw.get("env")
    return LegacyEntry(index=index, name=name, url=url.strip(), enabled=enabled, package=str(package), env=env)


def legacy_translate(*, entries: Sequence[object], file: str) -> LegacyFile:
    """Read the older file's entries; raise ManifestError (file, entry, field) for one that cannot be."""
    read = [_entry(file, index, raw) for index, raw in enumerate(entries)]
    winners: dict[str, LegacyEntry] = {}
    notices: list[str] = []
    for entry in read:
        if entry.name in winners:
            first = winners.pop(entry.name)
            notices.append(
                f"{file}: entry {entry.index + 1} ({entry.name}): name: also entry {first.index + 1}; "
                "the later entry wins, as in the older bot"
            )
        winners[entry.name] = entry
    given = {field for raw in entries if isinstance(raw, Mapping) for field in raw}
    notices += [f"{file}: {NOTICES[field]}" for field in ("url", "env", "package") if field in given]
    notices += [
        f"{file}: {field}: ignored (not a field of the older bot's format)" for field in sorted(given - set(OLD_FIELDS))
    ]
    notices.append(f"{file}: {NOTICES['network']}")
    chosen = sorted(winners.values(), key=lambda e: e.index)
    return LegacyFile(entries=tuple(chosen), notices=tuple(notices))
