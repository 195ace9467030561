"""Operator actions on users and plugins, shared by the admin and other front ends."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from plugins.models import BotUser, Plugin, PluginVersion
from plugins.versions import ActivationError, version_activate


def botusers_block(*, users: QuerySet[BotUser], blocked: bool) -> int:
    """Block (or unblock) ``users``: a blocked user's messages are stored but not answered."""
    return users.update(blocked=blocked)


def plugins_enable(*, plugins: QuerySet[Plugin], enabled: bool) -> int:
    """Enable (or disable) ``plugins``; a disabled plugin's commands do not answer."""
    return plugins.update(enabled=enabled, updated_at=timezone.now())


def versions_activate(*, versions: Iterable[PluginVersion]) -> tuple[list[PluginVersion], list[str]]:
    """Activate each version in turn; return those activated and one message per failure."""
    done: list[PluginVersion] = []
    failed: list[str] = []
    for version in versions:
        try:
            with transaction.atomic():
                version_activate(version=version)
        except ActivationError as exc:
            failed.append(str(exc))
        else:
            done.append(version)
    return done, failed
