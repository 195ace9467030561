"""Loaded by pytest before Django (``-p tests.envsetup``): tests keep their own data folder.

Tests never touch the operator's ``data/`` (its database, tokens or Celery queue).
"""

import os
from pathlib import Path

_root = Path(__file__).resolve().parent.parent
os.environ.setdefault("DATA_DIR", str(_root / ".test-data"))
os.environ.setdefault("SESSIONBOT_CONFIG", str(_root / "tests" / "data" / "config.yaml"))
os.environ.setdefault("LOG_LEVEL", "WARNING")
