"""A plugin's translations of its commands' summaries and help, kept beside its code.

Pure module (no Django): the plugin host reads the catalog when it loads a plugin.

The English summary and help of a command are in the code (``@command(summary=...)`` and
the handler's docstring). Other languages live in ``<module>.docs.json`` next to the
module that defines the plugin class (``echo.py`` → ``echo.docs.json``)::

    {
      "es": {"echo": {"summary": "Repite tu texto", "help": "/echo TEXTO responde TEXTO."}},
      "zh-hans": {"echo": {"summary": "重复你的文字"}}
    }

Languages are codes such as ``es`` or ``zh-hans``; each command may give ``summary``,
``help`` or both (a missing one falls back to English). A catalog that names a command
the plugin does not have, or is not this shape, stops the plugin from loading, with the
file and the reason.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
FIELDS = ("summary", "help")

Docs = dict[str, dict[str, str]]  # language -> {"summary": ..., "help": ...}


class CatalogError(ValueError):
    """The catalog file is unreadable or malformed; ``str()`` names the file and why."""


def catalog_path(plugin_class: type) -> Path | None:
    """Where the catalog of ``plugin_class`` is, or None for a class without a source file."""
    try:
        source = inspect.getfile(plugin_class)
    except (TypeError, OSError):
        return None
    return Path(source).with_suffix(".docs.json")


def catalog_parse(*, raw: object, commands: Collection[str], file: str) -> dict[str, Docs]:
    """Check the decoded JSON of a catalog; return command -> language -> fields."""
    if not isinstance(raw, dict):
        raise CatalogError(f"{file}: the top level must map language codes to commands")
    found: dict[str, Docs] = {}
    for language, table in raw.items():
        if not isinstance(language, str) or not LANGUAGE.match(language):
            raise CatalogError(f"{file}: {language!r} is not a language code such as es or zh-hans")
        if not isinstance(table, dict):
            raise CatalogError(f"{file}: {language}: must map command names to their texts")
        for command, texts in table.items():
            if command not in commands:
                raise CatalogError(f"{file}: {language}.{command}: the plugin has no command {command!r}")
            if not isinstance(texts, dict) or not texts or set(texts) - set(FIELDS):
                raise CatalogError(f"{file}: {language}.{command}: give summary, help or both")
            if not all(isinstance(v, str) for v in texts.values()):
                raise CatalogError(f"{file}: {language}.{command}: summary and help are text")
            found.setdefault(command, {})[language] = {k: v.strip() for k, v in texts.items()}
    return found


def catalog_read(*, plugin_class: type, commands: Collection[str]) -> dict[str, Docs]:
    """The translations of ``plugin_class``'s commands; empty when it has no catalog."""
    path = catalog_path(plugin_class)
    if path is None or not path.is_file():
        return {}
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogError(f"{path.name}: cannot read it ({exc})") from None
    return catalog_parse(raw=raw, commands=commands, file=path.name)
