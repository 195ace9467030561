"""Activating plugin versions. (Dependency and requirement checks: foundation issue.)"""

from __future__ import annotations

from django.db import transaction

from plugins.models import Plugin, PluginVersion


def version_activate(*, version: PluginVersion) -> None:
    """Make ``version`` the one that serves its plugin's commands."""
    with transaction.atomic():
        Plugin.objects.filter(pk=version.plugin_id).update(active_version=version)
