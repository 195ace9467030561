from plugins.api import Context, Plugin, Reply, command


class Echo(Plugin):
    """Answer the argument unchanged, however long."""

    @command("echo", summary="Repeat your text")
    def echo(self, ctx: Context, text: str) -> Reply:
        """/echo TEXT answers TEXT exactly as written, however long: spaces, new lines and all."""
        return Reply(text)
