from plugins.api import Context, Plugin, Reply, command


class Remember(Plugin):
    """Keeps a word per user in its storage, and forgets it when the user is erased."""

    @command("remember", summary="Remembers a word for you")
    def remember(self, ctx: Context, word: str) -> Reply:
        ctx.storage.set(f"word:{ctx.user_id}", word)
        return Reply("noted")

    @command("recall", summary="Says your word")
    def recall(self, ctx: Context) -> Reply:
        return Reply(ctx.storage.get(f"word:{ctx.user_id}", "nothing"))

    def forget(self, ctx: Context) -> None:
        ctx.storage.delete(f"word:{ctx.user_id}")
