from plugins.api import Context, Plugin, PluginError, Reply, command


class Chatty(Plugin):
    """A default handler: answers plain text, and has one command of its own."""

    @command("chatty", summary="Says what it does")
    def chatty(self, ctx: Context) -> Reply:
        return Reply("I answer plain text.")

    def on_text(self, ctx: Context, text: str) -> Reply:
        if text == "be rude":
            raise PluginError("I will not.")
        return Reply(f"You said: {text} ({ctx.command!r}, {ctx.language})")
