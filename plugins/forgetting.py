"""Plugins erase what they keep about a user: :meth:`plugins.api.Plugin.forget`, run per plugin.

The platform erases its own records of a user (``plugins.userdata``, ``broker.userdata``);
what a plugin keeps in its storage or elsewhere only its code knows. Each plugin that the
bot offers gets its hook called, in its own host with the command limits, as a health
check is. Plugins do not know bots: a plugin offered by several bots forgets the user for
all of them.

From a chat (``/forgetme``) the hooks run in a Celery task once the command has answered:
the command's own plugin may be one of them, and the user is not kept waiting on every
plugin's host. From ``manage.py userdata erase`` they run at once.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import transaction

from bots.live import bot_config
from bots.models import Bot
from plugins.api import PluginError
from plugins.execution import version_request
from plugins.models import Plugin
from plugins.offers import bot_offers_plugin

log = logging.getLogger(__name__)

# Set while a plugin's command asks for its user's erasure: the hooks then go to a task.
_in_command: ContextVar[bool] = ContextVar("forget_in_command", default=False)


@contextmanager
def forget_deferred() -> Any:
    """Within the block, erasures queue the plugins' hooks instead of running them."""
    token = _in_command.set(True)
    try:
        yield
    finally:
        _in_command.reset(token)


def _forget_message(*, plugin: Plugin, session_id: str, language: str) -> dict[str, Any]:
    ctx = {
        "user_id": session_id,
        "conversation": "",
        "conversation_type": "private",
        "language": language,
        "command": "",
        "config": dict(plugin.config or {}),
        "is_admin": False,
        "groups": [],
        "attachments": [],
    }
    return {"op": "forget", "ctx": ctx}


def plugins_forget(*, bot_id: int, session_id: str) -> int:
    """Call the forget hook of every enabled plugin bot ``bot_id`` offers; return how many
    plugins have one and ran it without error (a failing hook is logged)."""
    if not Bot.objects.filter(pk=bot_id).exists():
        return 0  # a bot purged since the erasure was asked for
    language = bot_config(bot_id).default_language
    forgot = 0
    plugins = Plugin.objects.select_related("active_version").filter(enabled=True, active_version__isnull=False)
    for plugin in plugins.order_by("name"):
        if not bot_offers_plugin(bot=bot_id, plugin=plugin.pk):
            continue
        version = plugin.active_version
        assert version is not None
        version.plugin = plugin
        message = _forget_message(plugin=plugin, session_id=session_id, language=language)
        outcome = version_request(version=version, message=message, on_call=_no_platform)
        if outcome.status == "ok":
            forgot += 1
        elif outcome.status != "none":
            log.warning("plugin %s could not forget a user: %s %s", plugin.name, outcome.status, outcome.error)
    return forgot


def _no_platform(method: str, args: dict[str, object]) -> object:
    raise PluginError("no platform services while forgetting a user")


def plugin_data_export(bot: Bot, session_id: str) -> dict[str, Any]:
    """Plugins' own data is theirs to show (a plugin's commands); the platform cannot read it."""
    return {}


def plugin_data_erase(bot: Bot, session_id: str) -> dict[str, int]:
    """Have the plugins forget the user: now, or after the asking command (see the module)."""
    if _in_command.get():
        from plugins.tasks import plugins_forget_task

        bot_id = bot.pk
        transaction.on_commit(lambda: plugins_forget_task.delay(bot_id, session_id))
        return {}
    return {"plugins": plugins_forget(bot_id=bot.pk, session_id=session_id)}
