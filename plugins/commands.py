"""A plugin version's command rows, derived from what its code declares.

The code is the one source of a command's name, arguments, summary, help and
translations: the plugin host describes them (``plugins.sandbox.runner.plugin_describe``)
when the import or a reload loads the code, and :func:`commands_derive` writes them.
The operator's plugins.yaml entry adds only a command's ``policy`` and ``filters``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings

from plugins.arguments import ArgSpec, usage_format
from plugins.models import PluginCommand, PluginVersion


def command_prefix(*, command: PluginCommand, bot_prefix: str = "") -> str:
    """What a message starts with to run ``command``: its own prefix (``!``) or the bot's
    (``bot_prefix``; config.yaml's when "")."""
    return command.prefix or bot_prefix or settings.BOT_CONFIG.command_prefix


def command_usage(*, command: PluginCommand, bot_prefix: str = "") -> str:
    """The usage line of ``command`` (``/weather <city…>``): the one the bot answers with."""
    specs = tuple(ArgSpec.from_dict(a) for a in command.args if isinstance(a, dict))
    prefix = command_prefix(command=command, bot_prefix=bot_prefix)
    return usage_format(prefix=prefix, command=command.name, specs=specs)


def _operator_settings(version: PluginVersion) -> dict[str, dict[str, Any]]:
    """Per command name, the policy and filters the version's plugins.yaml entry gives."""
    manifest = version.manifest if isinstance(version.manifest, dict) else {}
    found: dict[str, dict[str, Any]] = {}
    for item in manifest.get("commands") or []:
        if isinstance(item, dict) and item.get("name"):
            found[str(item["name"])] = {"policy": item.get("policy") or "", "filters": item.get("filters") or {}}
    return found


def commands_derive(*, version: PluginVersion, described: Sequence[Mapping[str, Any]]) -> None:
    """Make ``version``'s command rows exactly the commands its code ``described``.

    Commands the code no longer has are removed, new ones added; each row takes the
    policy and filters the operator gave that command in plugins.yaml, if any.
    """
    chosen = _operator_settings(version)
    version.commands.all().delete()
    PluginCommand.objects.bulk_create(
        PluginCommand(
            version=version,
            name=str(item["name"]),
            prefix=str(item.get("prefix", ""))[:4],
            summary=str(item.get("summary", ""))[:200],
            help=str(item.get("help", "")),
            args=list(item.get("args", [])),
            docs=dict(item.get("docs", {})),
            filters=_filters(chosen.get(str(item["name"]), {})),
            policy=str(chosen.get(str(item["name"]), {}).get("policy", "")),
        )
        for item in described
    )


def _filters(chosen: Mapping[str, Any]) -> dict[str, Any]:
    filters = chosen.get("filters") or {}
    # Unset filters are left out, so that a row shows only what narrows the command.
    return {key: value for key, value in filters.items() if value not in (None, [], ())}
