"""Pure routing rules: which command a message names, and whether its filters fit the message.

No Django import; :mod:`broker.message_routing` applies these rules to the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from plugins.commandline import command_parse


@dataclass(frozen=True, slots=True)
class MessageMeta:
    """What command filters may look at."""

    conversation_type: str
    has_attachments: bool
    language: str
    groups: frozenset[str]


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


@dataclass(frozen=True, slots=True)
class CommandMatch:
    """The command a message names: ``prefix`` is the one it was written with."""

    prefix: str
    name: str
    arguments: str
    own: bool  # written with a command's own prefix (an older bot's ``!echo``), not the bot's


def command_match(text: str, *, bot_prefix: str, own_prefixes: Iterable[str]) -> CommandMatch | None:
    """The command ``text`` starts with: after the bot's prefix, else after a command's own.

    ``own_prefixes`` are the prefixes commands bring (``!``); the longest that fits wins.
    None: plain text.
    """
    parsed = command_parse(text, prefix=bot_prefix)
    if parsed is not None:
        return CommandMatch(bot_prefix, parsed.name, parsed.arguments, own=False)
    for prefix in sorted(set(own_prefixes) - {"", bot_prefix}, key=lambda p: (-len(p), p)):
        parsed = command_parse(text, prefix=prefix)
        if parsed is not None:
            return CommandMatch(prefix, parsed.name, parsed.arguments, own=True)
    return None
