"""The worker's side of ``plugins.api.Platform``: what a plugin may ask of the platform.

Every call is made on behalf of the invoking user and checked for them; the admin calls
also require the calling plugin to be a built-in one, so a third-party plugin cannot
manage plugins even when an admin runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils.translation import gettext as _

from plugins import lifecycle
from plugins.api import PluginError
from plugins.arguments import ArgSpec, usage_format
from plugins.models import BotUser, PluginCommand, PluginDoc, PluginVersion
from plugins.permissions import permission_check, user_is_admin

BUILTIN_PACKAGE = "sessionbot_builtin"


def _usage(command: PluginCommand) -> str:
    specs = tuple(
        ArgSpec(str(a.get("name", "")), str(a.get("type", "str")), bool(a.get("required")), bool(a.get("rest")))
        for a in command.args
        if isinstance(a, dict)
    )
    return usage_format(prefix=settings.BOT_CONFIG.command_prefix, command=command.name, specs=specs)


def _doc(command: PluginCommand, language: str) -> PluginDoc | None:
    docs = {d.language: d for d in PluginDoc.objects.filter(plugin_id=command.version.plugin_id, command=command.name)}
    return docs.get(language) or docs.get(settings.BOT_CONFIG.default_language) or docs.get("en")


@dataclass
class PlatformServices:
    user: BotUser | None
    version: PluginVersion
    language: str

    def dispatch(self, method: str, args: dict[str, Any]) -> Any:
        """Answer one platform call; PluginError carries a message for the user."""
        handler = getattr(self, f"call_{method}", None)
        if handler is None:
            raise PluginError(_("This platform service does not exist."))
        return handler(**args)

    def _runnable(self) -> list[PluginCommand]:
        commands = PluginCommand.objects.select_related("version__plugin").filter(
            version__plugin__enabled=True, version__plugin__active_version_id=F("version_id")
        )
        if self.user is None:
            return []
        return [c for c in commands if permission_check(user=self.user, plugin=c.version.plugin, command=c)]

    def call_commands(self) -> list[dict[str, Any]]:
        rows = []
        for command in sorted(self._runnable(), key=lambda c: c.name):
            doc = _doc(command, self.language)
            summary = doc.title if doc is not None else command.summary
            plugin = command.version.plugin.name
            rows.append({"name": command.name, "summary": summary, "plugin": plugin, "usage": _usage(command)})
        return rows

    def call_command_doc(self, name: str) -> dict[str, Any] | None:
        found = next((c for c in self._runnable() if c.name == name), None)
        if found is None:
            return None
        doc = _doc(found, self.language)
        title = doc.title if doc is not None else found.summary
        return {"name": name, "title": title, "body": doc.body if doc is not None else "", "usage": _usage(found)}

    def call_languages(self) -> list[str]:
        return list(settings.BOT_CONFIG.languages)

    def call_user_language_set(self, language: str) -> str:
        code = language.strip().lower().replace("_", "-")
        if code not in settings.BOT_CONFIG.languages:
            raise PluginError(
                _("Unknown language %(code)s. Choose one of: %(choices)s.")
                % {"code": language, "choices": ", ".join(settings.BOT_CONFIG.languages)}
            )
        if self.user is None:
            raise PluginError(_("Only a known user can choose a language."))
        BotUser.objects.filter(pk=self.user.pk).update(language=code)
        return code

    def _admin(self) -> None:
        if self.user is None or not user_is_admin(user=self.user):
            raise PluginError(_("Only the bot's admins may do that."))
        if not self.version.entrypoint.startswith(BUILTIN_PACKAGE + "."):
            raise PluginError(_("Only built-in plugins may manage plugins."))

    def call_plugins(self) -> list[dict[str, Any]]:
        self._admin()
        return lifecycle.plugins_overview()

    def call_plugin_manage(self, action: str, name: str, version: str = "") -> str:
        self._admin()
        try:
            return lifecycle.plugin_action(action=action, name=name, version=version)
        except lifecycle.LifecycleError as exc:
            raise PluginError(str(exc)) from None
