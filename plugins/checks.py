"""Start-up warnings about the plugin sandbox (Django's system checks: ``manage.py check``,
``runbroker``), so an operator learns before the first chat that plugins will be refused."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core import checks

from plugins.sandbox.system import tool_problem
from plugins.sources.active import source_policy
from plugins.sources.policy import index_refusal


def sandbox_check(**kwargs: Any) -> list[checks.CheckMessage]:
    """A root worker without bubblewrap refuses every ``isolation: host`` plugin."""
    if os.geteuid() != 0 or settings.PLUGINS_RUN_UNSANDBOXED_AS_ROOT:
        return []
    problem = tool_problem(settings.PLUGIN_BWRAP)
    if not problem:
        return []
    return [
        checks.Warning(
            f"plugins with isolation: host will be refused: this process runs as root and cannot "
            f"confine them ({problem})",
            hint="Install bubblewrap (apt-get install bubblewrap), or run as another user; "
            "PLUGINS_RUN_UNSANDBOXED_AS_ROOT=true runs them as root, unconfined.",
            id="plugins.W001",
        )
    ]


def secrets_key_check(**kwargs: Any) -> list[checks.CheckMessage]:
    """Scaled out without PLUGIN_SECRETS_KEY, no plugin secret or bot identity can be stored or read."""
    if settings.PLUGIN_SECRETS_KEY:
        return []
    return [
        checks.Warning(
            "plugins that have secrets and the bots' bridges will not start, and no secret or bot can be "
            "added: PLUGIN_SECRETS_KEY is not set",
            hint="REDIS_URL is set, so several machines share the database: give each the same "
            "PLUGIN_SECRETS_KEY (at least 32 random characters).",
            id="plugins.W002",
        )
    ]


def index_check(**kwargs: Any) -> list[checks.CheckMessage]:
    """Builds resolve from PLUGIN_INDEX_URL: config.yaml's plugin_sources.indexes must allow it."""
    refusal = index_refusal("", source_policy())
    if not refusal:
        return []
    return [
        checks.Error(
            f"no plugin with requirements can be installed: PLUGIN_INDEX_URL is refused ({refusal})",
            hint="List PLUGIN_INDEX_URL in plugin_sources.indexes of config.yaml, or set PLUGIN_INDEX_URL "
            "to an index it lists (empty: wheels from PLUGIN_FIND_LINKS only).",
            id="plugins.E001",
        )
    ]
