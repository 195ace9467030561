from plugins.api import Context, Plugin, Reply, command


class Echo(Plugin):
    """Answer the argument unchanged, however long."""

    @command("echo", summary="Repeat your text")
    def echo(self, ctx: Context, rest: str = "") -> Reply:
        return Reply(rest)
