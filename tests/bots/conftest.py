from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

# A Session identity and the ID it derives to (session_python's own derivation).
WORDS = "mittens abnormal adult obliged kennel jittery omnibus necklace below catch hiding omega hiding"
SESSION_ID = "05c99faffc6b91a66af2792d29e677f49fe36ade604d7d06ad0113b1e2b6e0886b"


@pytest.fixture(autouse=True)
def bots_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A sealing key, no SESSION_MNEMONIC and a data folder of the test's own."""
    if not settings.PLUGIN_SECRETS_KEY:
        monkeypatch.setattr(settings, "PLUGIN_SECRETS_KEY", "tests-only-plugin-secrets-key-not-for-production")
    monkeypatch.setattr(settings, "SESSION_MNEMONIC", "")
    monkeypatch.setattr(settings, "DATA_DIR", tmp_path)
    return tmp_path
