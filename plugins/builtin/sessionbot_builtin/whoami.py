from plugins.api import Context, Plugin, Reply, command
from sessionbot_builtin.messages import t


class WhoAmI(Plugin):
    """Tell users how the bot sees them: Session ID, language, role and groups."""

    @command("whoami", summary="Show your Session ID, language, role and groups")
    def whoami(self, ctx: Context, rest: str = "") -> Reply:
        """Shows your Session ID, your language, whether you are an admin and your groups."""
        groups = ", ".join(ctx.groups) or t(ctx.language, "none")
        role = t(ctx.language, "role.admin" if ctx.is_admin else "role.user")
        return Reply(t(ctx.language, "whoami", user=ctx.user_id, language=ctx.language, role=role, groups=groups))
