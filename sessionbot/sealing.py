"""Sealing short secrets (plugin secrets, bot identities) for storage in the database.

A sealed value is a Fernet token (AES-128-CBC with an HMAC-SHA256, from ``cryptography``)
under a key that HKDF derives from ``PLUGIN_SECRETS_KEY`` (or ``data/secrets_key``) and a
purpose: the same key text seals plugin secrets and bot identities under different keys,
so a value of one kind never opens as the other. Several keys, comma-separated, rotate: the
first seals, every one opens.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PLUGIN_SECRETS = b"sessionbot plugin secrets"
BOT_IDENTITIES = b"sessionbot bot identities"


class SealError(Exception):
    """A sealed value cannot be opened with these keys; the message never holds the value."""


@functools.lru_cache(maxsize=8)
def cipher(keys: str, *, purpose: bytes) -> MultiFernet:
    """The cipher of ``keys`` (comma-separated, the first seals) for ``purpose`` (HKDF info)."""

    # Any text of 32 characters or more is a key: HKDF turns it into Fernet's 32 bytes.
    def fernet(key: str) -> Fernet:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose)
        return Fernet(base64.urlsafe_b64encode(derived.derive(key.encode())))

    return MultiFernet([fernet(key) for key in keys.split(",")])


def seal(value: str, *, keys: str, purpose: bytes) -> str:
    """Encrypt ``value`` under the first of ``keys`` for ``purpose``; ASCII text."""
    return cipher(keys, purpose=purpose).encrypt(value.encode()).decode("ascii")


def unseal(sealed: str, *, keys: str, purpose: bytes) -> str:
    """Decrypt what :func:`seal` returned; SealError when no key of ``keys`` opens it."""
    try:
        return cipher(keys, purpose=purpose).decrypt(sealed.encode("ascii")).decode()
    except (InvalidToken, UnicodeError):
        raise SealError("sealed under another key") from None
