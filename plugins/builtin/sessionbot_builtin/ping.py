from plugins.api import Context, Plugin, Reply, command
from sessionbot_builtin.messages import t


class Ping(Plugin):
    """Answer ``pong``: the quickest way to see the bot is alive."""

    @command("ping", summary="Check that the bot answers")
    def ping(self, ctx: Context, rest: str = "") -> Reply:
        """Answers pong: the quickest way to see the bot is alive. Anything after /ping is ignored."""
        return Reply(t(ctx.language, "pong"))
