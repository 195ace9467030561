"""Secret files are owner-only before plugin hosts start as another user.

The data folder is traversable but not listable for the host user; that hides no file whose
name is well known, so every secret file must be made owner-only, the mnemonics included
(an operator may have written one by hand with a readable mode).
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from django.conf import settings

from plugins import execution
from plugins.sandbox import privileges

SECRETS = ["secret_key", "bridge_token", "session_mnemonic", "chat_mnemonic"]


@pytest.mark.parametrize("name", SECRETS)
def test_a_readable_secret_file_is_made_owner_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str) -> None:
    monkeypatch.setattr(settings, "DATA_DIR", tmp_path)
    monkeypatch.setattr(privileges, "_done", set())
    secret = tmp_path / name
    secret.write_text("words\n")
    secret.chmod(0o644)
    privileges.secrets_hide(data_dir=tmp_path, secret_files=execution._secret_files(), public_dirs=[])
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(tmp_path.stat().st_mode) & 0o077 == 0o011  # enterable, not listable
