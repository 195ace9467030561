"""Pure routing rules: what a message's text asks for and whether a command's filters fit.

No Django import; :mod:`broker.dispatch` applies these rules to the database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class MessageMeta:
    """What command filters may look at."""

    conversation_type: str
    has_attachments: bool
    language: str
    groups: frozenset[str]


def command_parse(text: str, *, prefix: str) -> ParsedCommand | None:
    """Return the command ``text`` starts with, or ``None`` for plain text.

    ``/Echo  hello`` gives ``echo`` and ``hello``: the name is case-insensitive and the
    arguments keep everything after the whitespace that follows the name.
    """
    if not text.startswith(prefix):
        return None
    m = _NAME_RE.match(text, len(prefix))
    if m is None:
        return None
    rest = text[m.end() :]
    if rest and not rest[0].isspace():
        return None  # "/ping!" or "/a/b" is not a command
    return ParsedCommand(name=m.group(0).lower(), arguments=rest.lstrip())


def _as_set(value: object) -> set[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return {value.lower()}
    if isinstance(value, list | tuple | set | frozenset):
        return {str(v).lower() for v in value}
    return set()  # a filter of the wrong kind matches nothing rather than everything


def filters_match(filters: Mapping[str, object] | None, meta: MessageMeta) -> bool:
    """Return whether a command with ``filters`` may run for a message with ``meta``.

    Known keys: ``conversation_type`` (``private``/``group`` or a list), ``has_attachments``
    (bool), ``languages`` (list of codes), ``groups`` (names of bot groups; the user must be
    in one). Every given key must match; unknown keys are ignored.
    """
    if not filters:
        return True
    kinds = _as_set(filters.get("conversation_type"))
    if kinds is not None and meta.conversation_type not in kinds:
        return False
    wants_files = filters.get("has_attachments")
    if isinstance(wants_files, bool) and wants_files != meta.has_attachments:
        return False
    languages = _as_set(filters.get("languages"))
    if languages is not None and meta.language.lower() not in languages:
        return False
    groups = _as_set(filters.get("groups"))
    return groups is None or bool(groups & {g.lower() for g in meta.groups})
