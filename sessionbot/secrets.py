"""Generate-once secrets kept in the data folder with mode 0600."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path


def private_file_create(path: Path, text: str) -> bool:
    """Create ``path`` (mode 0600) holding ``text``, whole; False if it exists already.

    The text goes to a temporary file first, which is then linked into place: a process
    starting at the same moment never reads the file empty or half-written, and a crash
    never leaves an empty one behind (which read as "no secret" or "not a mnemonic").
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)  # fails if it exists: two processes never keep two secrets
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(tmp)


def secret_file_value(path: Path, *, nbytes: int = 48) -> str:
    """Return the secret stored at ``path``, creating it (mode 0600) on first use."""
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        value = ""
    if value:
        return value
    value = secrets.token_urlsafe(nbytes)
    if private_file_create(path, value + "\n"):
        return value
    return path.read_text(encoding="utf-8").strip()  # another process created it first
