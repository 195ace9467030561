"""The bot's (or a chat user's) Session identity: a 13-word mnemonic, kept secret.

The mnemonic is never logged or printed; only the Session ID derived from it is.
"""

from __future__ import annotations

from pathlib import Path

from session_python import Session
from session_python.mnemonic import decode as mnemonic_decode

from sessionbot.secrets import private_file_create


class IdentityError(Exception):
    """The configured mnemonic is unusable; the message never contains the words."""


def mnemonic_check(words: str, *, source: str) -> str:
    words = " ".join(words.split())
    try:
        mnemonic_decode(words)
    except (ValueError, IndexError, KeyError):
        raise IdentityError(f"{source} is not a valid 13-word Session mnemonic") from None
    return words


def mnemonic_load(*, env_value: str, path: Path) -> str:
    """Return ``env_value`` if set, else the words in ``path``, generating it (mode 0600) once."""
    if env_value.strip():
        return mnemonic_check(env_value, source="SESSION_MNEMONIC")
    try:
        return mnemonic_check(path.read_text(encoding="utf-8"), source=str(path))
    except FileNotFoundError:
        pass
    words = Session.generate_mnemonic()
    if private_file_create(path, words + "\n"):
        return words
    # another process created it first: use theirs, never two identities
    return mnemonic_check(path.read_text(encoding="utf-8"), source=str(path))


def session_id_of(words: str) -> str:
    client = Session()
    client.set_mnemonic(words)
    return client.get_session_id()
