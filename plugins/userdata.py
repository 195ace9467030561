"""The plugins app's part of a user's data: the user record, grants, groups, invocations.

Registered with :mod:`bots.userdata` (``PluginsConfig.ready``). The user record stays,
emptied of name, language and admin role, so that a block the operator set survives an
erasure; its grants and group memberships go. A finished invocation keeps its command,
plugin, status, times and duration (the metrics) and loses its arguments, attachments,
quote, error text and its link to the user; one still queued or running is left to finish.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q

from bots.models import Bot
from plugins.models import BotUser, Invocation, PermissionGrant

BATCH = 500


def _user(bot: Bot, session_id: str) -> BotUser | None:
    return BotUser.objects.filter(bot=bot, session_id=session_id).first()


def user_export(bot: Bot, session_id: str) -> dict[str, Any]:
    """The user record, their grants and groups, and their invocations, oldest first."""
    user = _user(bot, session_id)
    if user is None:
        return {"user": None, "grants": [], "groups": [], "invocations": []}
    grants = [
        {"effect": g.effect, "plugin": g.plugin.name, "command": g.command, "created_at": g.created_at.isoformat()}
        for g in PermissionGrant.objects.filter(user=user).select_related("plugin").order_by("pk")
    ]
    invocations = [
        {
            "queued_at": inv.queued_at.isoformat(),
            "plugin": inv.plugin_version.plugin.name if inv.plugin_version else None,
            "command": inv.command,
            "arguments": inv.arguments,
            "status": inv.status,
            "attachments": [a.get("name") for a in inv.attachments if isinstance(a, dict)],
        }
        for inv in Invocation.objects.filter(user=user)
        .select_related("plugin_version__plugin")
        .order_by("queued_at", "pk")
    ]
    record = {
        "display_name": user.display_name,
        "language": user.language,
        "admin": user.is_admin,
        "blocked": user.blocked,
        "first_seen": user.first_seen.isoformat(),
        "last_seen": user.last_seen.isoformat(),
    }
    groups = sorted(user.bot_groups.values_list("name", flat=True))
    return {"user": record, "grants": grants, "groups": groups, "invocations": invocations}


def user_erase(bot: Bot, session_id: str) -> dict[str, int]:
    """Empty the user record, drop grants and groups, empty finished invocations."""
    user = _user(bot, session_id)
    if user is None:
        return {}
    with transaction.atomic():
        grants, _by_model = PermissionGrant.objects.filter(user=user).delete()
        groups = user.bot_groups.count()
        user.bot_groups.clear()
        BotUser.objects.filter(pk=user.pk).update(display_name="", language="", is_admin=False)
    invocations = 0
    done = Invocation.objects.filter(user=user, status__in=Invocation.FINISHED)
    while ids := list(done.order_by("pk").values_list("pk", flat=True)[:BATCH]):
        with transaction.atomic():
            rows = Invocation.objects.filter(pk__in=ids)
            rows.filter(conversation=session_id).update(conversation="")
            invocations += rows.update(arguments="", attachments=[], reply_to=None, error="", user=None)
    return {"grants": grants, "groups": groups, "invocations": invocations}


def invocation_content() -> Q:
    """Finished invocations that still hold content (what the retention purge empties)."""
    return ~Q(arguments="") | ~Q(attachments=[]) | Q(reply_to__isnull=False) | ~Q(error="")
