from plugins.api import Context, Plugin, Reply, command


class Ping(Plugin):
    """Answer ``pong``: the quickest way to see the bot is alive."""

    @command("ping", summary="Check that the bot answers")
    def ping(self, ctx: Context, rest: str = "") -> Reply:
        return Reply("pong")
