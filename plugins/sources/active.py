"""The running bot's source policy (config.yaml's ``plugin_sources``) and git cache."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from plugins.sources.policy import SourcePolicy, policy_from_config


def source_policy() -> SourcePolicy:
    """The policy the bot runs with."""
    return policy_from_config(settings.BOT_CONFIG.plugin_sources)


def source_cache() -> Path:
    """Where bare clones of git sources are kept between fetches (``source_fetch(cache=)``)."""
    return Path(settings.DATA_DIR) / "git-cache"
