"""The worker's side of ``plugins.api.Platform``: what a plugin may ask of the platform.

Every call is made on behalf of the invoking user and checked for them; the admin calls
also require the calling plugin to be a built-in one, so a third-party plugin cannot
manage plugins even when an admin runs it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from bots.live import bot_config
from bots.userdata import userdata_erase, userdata_export
from plugins import lifecycle, signals
from plugins.api import Attachment, PluginError, Reply
from plugins.commands import command_prefix, command_usage
from plugins.forgetting import forget_deferred
from plugins.models import BotUser, Invocation, PluginCommand, PluginVersion
from plugins.offers import bot_offers
from plugins.outcomes import reply_capped
from plugins.permissions import deployment_admin, permission_check, user_is_admin
from sessionbot.botconfig import BotConfig

BUILTIN_PACKAGE = "sessionbot_builtin"
MAX_SENDS = 100  # messages one invocation may send before its answer (Context.send)


def _languages(language: str, config: BotConfig) -> tuple[str, ...]:
    """Where a user's text comes from: their language, the bot's default, English."""
    return (language, config.default_language, "en")


@dataclass
class PlatformServices:
    user: BotUser | None
    version: PluginVersion
    language: str
    invocation: Invocation | None = None
    sent: int = 0  # messages sent so far by this run (Context.send)
    finished: bool = False  # the run has answered: no more messages

    def dispatch(self, method: str, args: dict[str, Any]) -> Any:
        """Answer one platform call; PluginError carries a message for the user."""
        handler = getattr(self, f"call_{method}", None)
        if handler is None:
            raise PluginError(_("This platform service does not exist."))
        return handler(**args)

    @property
    def config(self) -> BotConfig:
        """The settings of the bot this run answers for."""
        if self.invocation is not None:
            return bot_config(self.invocation.bot_id)
        return bot_config(self.user.bot_id) if self.user is not None else settings.BOT_CONFIG

    def _runnable(self) -> list[PluginCommand]:
        if self.user is None:
            return []
        commands = PluginCommand.objects.select_related("version__plugin").filter(
            version__plugin__enabled=True, version__plugin__active_version_id=F("version_id")
        )
        offered = bot_offers(bot=self.user.bot_id).plugins
        if offered is not None:
            commands = commands.filter(version__plugin_id__in=offered)
        return [c for c in commands if permission_check(user=self.user, plugin=c.version.plugin, command=c)]

    def call_commands(self) -> list[dict[str, Any]]:
        rows = []
        for command in sorted(self._runnable(), key=lambda c: c.name):
            summary, _help = command.localized(*_languages(self.language, self.config))
            plugin = command.version.plugin.name
            prefix = self.config.command_prefix
            rows.append(
                {
                    "name": command.name,
                    "summary": summary,
                    "plugin": plugin,
                    "usage": command_usage(command=command, bot_prefix=prefix),
                    "prefix": command_prefix(command=command, bot_prefix=prefix),
                }
            )
        return rows

    def call_command_doc(self, name: str) -> dict[str, Any] | None:
        """The manual of ``name`` (``echo``), or of a command with its own prefix (``!echo``)."""
        runnable = self._runnable()
        found = next((c for c in runnable if c.prefix and c.prefix + c.name == name), None)
        found = found or next((c for c in runnable if c.name == name and not c.prefix), None)
        found = found or next((c for c in runnable if c.name == name), None)
        if found is None:
            return None
        summary, body = found.localized(*_languages(self.language, self.config))
        usage = command_usage(command=found, bot_prefix=self.config.command_prefix)
        return {"name": name, "title": summary, "body": body, "usage": usage}

    def call_languages(self) -> list[str]:
        return list(self.config.languages)

    def call_user_language_set(self, language: str) -> str:
        code = language.strip().lower().replace("_", "-")
        languages = self.config.languages
        if code not in languages:
            raise PluginError(
                _("Unknown language %(code)s. Choose one of: %(choices)s.")
                % {"code": language, "choices": ", ".join(languages)}
            )
        if self.user is None:
            raise PluginError(_("Only a known user can choose a language."))
        BotUser.objects.filter(pk=self.user.pk).update(language=code)
        return code

    def call_send(self, text: str, attachments: list[dict[str, Any]]) -> None:
        """Store one message of the running command in the outbox, committed before it returns.

        Numbered per run here, not by the plugin: a plugin cannot pick the number another
        message of its invocation would use, and a re-run numbers its messages the same way.
        """
        inv = self.invocation
        if inv is None or self.finished or not inv.conversation:
            raise PluginError(_("This command has finished; it can no longer send messages."))
        if not isinstance(text, str) or not isinstance(attachments, list):
            raise TypeError("send takes text and a list of attachments")
        if self.sent >= MAX_SENDS:
            raise PluginError(
                _("A command may send at most %(count)s messages before its answer.") % {"count": MAX_SENDS}
            )
        files = tuple(_attachment(item) for item in attachments)
        reply = reply_capped(Reply(text, files))
        self.sent += 1
        with transaction.atomic():
            signals.invocation_sent.send(sender=Invocation, invocation=inv, reply=reply, sequence=self.sent)

    def _own_data(self) -> BotUser:
        """The invoking user, when a built-in plugin asks about their data."""
        if not self.version.entrypoint.startswith(BUILTIN_PACKAGE + "."):
            raise PluginError(_("Only built-in plugins may read or erase a user's data."))
        if self.user is None:
            raise PluginError(_("Only a known user has data to show or erase."))
        return self.user

    def call_user_data(self) -> dict[str, Any]:
        user = self._own_data()
        return userdata_export(bot=user.bot, session_id=user.session_id)

    def call_user_forget(self) -> dict[str, int]:
        user = self._own_data()
        with forget_deferred():
            return userdata_erase(bot=user.bot, session_id=user.session_id)

    def _admin(self) -> None:
        if self.user is None or not user_is_admin(user=self.user):
            raise PluginError(_("Only the bot's admins may do that."))
        if not self.version.entrypoint.startswith(BUILTIN_PACKAGE + "."):
            raise PluginError(_("Only built-in plugins may manage plugins."))
        if not deployment_admin(user=self.user):
            raise PluginError(
                _(
                    "Plugins serve every bot of this deployment: only the admins listed in config.yaml "
                    "may manage them from a chat."
                )
            )

    def call_plugins(self) -> list[dict[str, Any]]:
        self._admin()
        return lifecycle.plugins_overview()

    def call_plugin_manage(self, action: str, name: str, version: str = "") -> str:
        self._admin()
        try:
            return lifecycle.plugin_action(action=action, name=name, version=version)
        except lifecycle.LifecycleError as exc:
            raise PluginError(str(exc)) from None


def _attachment(item: Any) -> Attachment:
    if not isinstance(item, dict):
        raise TypeError("an attachment must be an object")
    try:
        data = base64.b64decode(str(item.get("data", "")), validate=True)
    except (binascii.Error, ValueError):
        raise TypeError("an attachment's data must be base64") from None
    return Attachment(str(item.get("name", "")), str(item.get("content_type", "")), data)
