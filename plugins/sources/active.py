"""The running bot's source policy (config.yaml's ``plugin_sources``), git cache and fetch folders."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext

from plugins.sources.policy import SourcePolicy, index_refusal, policy_from_config
from plugins.sources.spec import SourceError


def source_policy() -> SourcePolicy:
    """The policy the bot runs with; builds resolve from ``PLUGIN_INDEX_URL``."""
    return policy_from_config(settings.BOT_CONFIG.plugin_sources, default_index=settings.PLUGIN_INDEX_URL)


def build_indexes(index: str = "") -> tuple[str | None, list[str]]:
    """The index a build resolves from (None: the find-links alone) and the folders of wheels
    it also searches: ``index`` (a source's own), else ``PLUGIN_INDEX_URL``, with ``PLUGIN_FIND_LINKS``.

    Every build, of a requirement, a project's or an older bot's plugin, resolves this way.
    Raises :class:`SourceError` when ``plugin_sources.indexes`` does not allow that index.
    """
    refusal = index_refusal(index, source_policy())
    if refusal:
        raise SourceError(gettext(refusal.text) % refusal.params)
    return (index or settings.PLUGIN_INDEX_URL) or None, list(settings.PLUGIN_FIND_LINKS)


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
