from plugins.api import Context, Plugin, Reply, command
from sessionbot_builtin.messages import t

ACTIONS = ("reload", "enable", "disable", "activate", "rollback")


class PluginsAdmin(Plugin):
    """Operate plugins from the chat (admins only): list, reload, enable, disable, versions."""

    @command("plugins", summary="List and manage plugins (admins)")
    def plugins(self, ctx: Context, action: str = "", name: str = "", version: str = "") -> Reply:
        """/plugins lists plugins with version, state and health (admins only).

        /plugins reload NAME, /plugins enable NAME, /plugins disable NAME,
        /plugins activate NAME VERSION and /plugins rollback NAME manage them.
        """
        if not action:
            return Reply(self._list(ctx))
        if action not in ACTIONS or not name:
            return Reply(t(ctx.language, "plugins.usage"))
        return Reply(ctx.platform.plugin_manage(action, name, version.strip()))

    def _list(self, ctx: Context) -> str:
        lines = [t(ctx.language, "plugins.title")]
        for info in ctx.platform.plugins():
            enabled = t(ctx.language, "plugins.enabled" if info.enabled else "plugins.disabled")
            lines.append(
                t(
                    ctx.language,
                    "plugins.line",
                    name=info.name,
                    version=info.version or "-",
                    enabled=enabled,
                    state=info.load_state,
                    health=info.health,
                    rate=f"{info.error_rate:.0%}",
                )
            )
        return "\n".join(lines)
