"""The running bot's source policy (config.yaml's ``plugin_sources``), git cache and fetch folders."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from plugins.sources.policy import SourcePolicy, policy_from_config


def source_policy() -> SourcePolicy:
    """The policy the bot runs with."""
    return policy_from_config(settings.BOT_CONFIG.plugin_sources)


def source_cache() -> Path:
    """Where bare clones of git sources are kept between fetches (``source_fetch(cache=)``)."""
    return Path(settings.DATA_DIR) / "git-cache"


@contextmanager
def fetch_scratch() -> Iterator[Path]:
    """A private folder under ``DATA_DIR/plugin-fetch`` for one fetch, removed afterwards."""
    parent = Path(settings.DATA_DIR) / "plugin-fetch"
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=parent))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)
