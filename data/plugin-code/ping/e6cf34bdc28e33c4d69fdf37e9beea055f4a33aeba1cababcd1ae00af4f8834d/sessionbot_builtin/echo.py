from plugins.api import Context, Plugin, Reply, command


class Echo(Plugin):
    """Answer the argument unchanged, however long."""

    @command("echo", summary="Repeat your text")
    def echo(self, ctx: Context, text: str) -> Reply:
        """Sends TEXT back exactly as written: spaces, new lines and all."""
        return Reply(text)
