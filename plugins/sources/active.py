"""The running bot's source policy (config.yaml's ``plugin_sources``) and git cache."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

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
        raise SourceError(refusal)
    return (index or settings.PLUGIN_INDEX_URL) or None, list(settings.PLUGIN_FIND_LINKS)


def source_cache() -> Path:
    """Where bare clones of git sources are kept between fetches (``source_fetch(cache=)``)."""
    return Path(settings.DATA_DIR) / "git-cache"
