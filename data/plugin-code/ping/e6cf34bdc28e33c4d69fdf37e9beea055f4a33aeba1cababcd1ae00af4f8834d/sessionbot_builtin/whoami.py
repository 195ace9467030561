from plugins.api import Context, Plugin, Reply, command
from sessionbot_builtin.messages import t


class WhoAmI(Plugin):
    """Tell users how the bot sees them: Session ID, language and groups."""

    @command("whoami", summary="Your Session ID, language and groups")
    def whoami(self, ctx: Context, rest: str = "") -> Reply:
        """Shows your Session ID, your language and the groups you belong to."""
        groups = ", ".join(ctx.groups) or t(ctx.language, "none")
        return Reply(t(ctx.language, "whoami", user=ctx.user_id, language=ctx.language, groups=groups))
