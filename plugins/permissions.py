"""Who may run which command: grants for the user and their groups, policies, admins."""

from __future__ import annotations

from django.conf import settings

from plugins.models import BotUser, PermissionGrant, Plugin, PluginCommand, Policy


def user_is_admin(*, user: BotUser) -> bool:
    """Admins are flagged in the admin or listed in config.yaml."""
    return user.is_admin or user.session_id in settings.BOT_CONFIG.admins


def permission_check(*, user: BotUser, plugin: Plugin, command: PluginCommand | None) -> bool:
    """Return whether ``user`` may run ``command`` of ``plugin``.

    The most specific grant decides: user and command, user and plugin, group and command,
    group and plugin; at one level a deny beats an allow. Without a grant, the command's
    policy (or else the plugin's) decides. Admins may run everything.
    """
    if user_is_admin(user=user):
        return True
    name = command.name if command is not None else ""
    grants = list(
        PermissionGrant.objects.filter(plugin=plugin, command__in={"", name})
        .filter(user=user)
        .values_list("effect", "command")
    )
    group_ids = list(user.bot_groups.values_list("id", flat=True))
    group_grants = (
        list(
            PermissionGrant.objects.filter(plugin=plugin, command__in={"", name}, group_id__in=group_ids).values_list(
                "effect", "command"
            )
        )
        if group_ids
        else []
    )
    for level in (
        [e for e, c in grants if c == name and name],
        [e for e, c in grants if c == ""],
        [e for e, c in group_grants if c == name and name],
        [e for e, c in group_grants if c == ""],
    ):
        if level:
            return PermissionGrant.Effect.DENY not in level
    policy = (command.policy if command is not None and command.policy else "") or plugin.default_policy
    return policy == Policy.EVERYONE
