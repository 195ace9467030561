"""Pure rules of the older bot's commands: which word a message starts with, and its parts.

No Django and no I/O. An older-bot observer answers to one word with a prefix of its
own (``prefix()`` returns ``"!echo"``); here that word becomes a command ``echo`` whose
own prefix is ``!``, routed beside the bot's ``/`` commands.
"""

from __future__ import annotations

import re

# One to four punctuation characters, then a command name (the bot's command name rule).
_WORD = re.compile(r"([^\w\s]{1,4})([A-Za-z0-9][A-Za-z0-9_-]{0,63})")


class WordError(ValueError):
    """The observer's ``prefix()`` is not a command word such as ``!echo``."""


def command_word_split(word: object) -> tuple[str, str]:
    """``"!echo"`` gives ``("!", "echo")``: the word's own prefix and its command name.

    The name is lower-cased, as every command name is; a word without a prefix character,
    with spaces, or with a name the bot cannot route raises :class:`WordError`.
    """
    if not isinstance(word, str):
        raise WordError(f"prefix() must return a word such as '!echo', not {type(word).__name__}")
    m = _WORD.fullmatch(word)
    if m is None:
        raise WordError(f"prefix() returned {word[:70]!r}, not a word such as '!echo' (1 to 4 signs, then a name)")
    return m.group(1), m.group(2).lower()
