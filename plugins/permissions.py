"""Who may run which command: grants for the user and their groups, policies, admins."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q

from bots.live import bot_config
from bots.models import Bot
from plugins.models import BotUser, PermissionGrant, Plugin, PluginCommand, Policy
from plugins.offers import policy_of


def user_is_admin(*, user: BotUser) -> bool:
    """Admins of the user's bot: flagged in the admin, or listed in its settings (config.yaml's
    ``admins`` unless the bot names its own)."""
    return user.is_admin or user.session_id in bot_config(user.bot_id).admins


def deployment_admin(*, user: BotUser) -> bool:
    """Whether ``user`` may change what every bot runs (plugins, from a chat): an admin of
    their bot who is also listed in config.yaml's ``admins``, or any admin of the bot when
    the deployment has one bot only."""
    if not user_is_admin(user=user):
        return False
    return user.session_id in settings.BOT_CONFIG.admins or not Bot.objects.exclude(pk=user.bot_id).exists()


def permission_check(*, user: BotUser, plugin: Plugin, command: PluginCommand | None) -> bool:
    """Return whether ``user`` may run ``command`` of ``plugin``.

    Grants that name another bot do not count. The most specific grant decides: user and
    command, user and plugin, group and command, group and plugin; at one level a deny
    beats an allow. Without a grant, the bot's policy for the plugin, the command's or the
    plugin's decides (``plugins.offers.policy_of``). Admins may run everything.
    """
    if user_is_admin(user=user):
        return True
    name = command.name if command is not None else ""
    here = PermissionGrant.objects.filter(Q(bot__isnull=True) | Q(bot_id=user.bot_id))
    grants = list(here.filter(plugin=plugin, command__in={"", name}).filter(user=user).values_list("effect", "command"))
    group_ids = list(user.bot_groups.values_list("id", flat=True))
    group_grants = (
        list(
            here.filter(plugin=plugin, command__in={"", name}, group_id__in=group_ids).values_list("effect", "command")
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
    return policy_of(bot=user.bot_id, plugin=plugin, command=command) == Policy.EVERYONE
