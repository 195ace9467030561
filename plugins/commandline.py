"""Pure command-line parsing: which command a message's text names, and its arguments.

The plugins own a command's syntax (see :mod:`plugins.arguments`); the broker routes with
this parser and :mod:`plugins.testing` runs the same one. No Django import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    name: str
    arguments: str


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
