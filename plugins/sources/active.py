"""The source policy of the running bot (config.yaml's ``plugin_sources``)."""

from __future__ import annotations

from django.conf import settings

from plugins.sources.policy import SourcePolicy, policy_from_config


def source_policy() -> SourcePolicy:
    """The policy the bot runs with."""
    return policy_from_config(settings.BOT_CONFIG.plugin_sources)
