from plugins.api import Context, Plugin, Reply, command
from sessionbot_builtin.messages import t


class Lang(Plugin):
    """Let users choose the language the bot answers them in."""

    @command("lang", summary="Show or choose the language the bot answers you in")
    def lang(self, ctx: Context, language: str = "") -> Reply:
        """/lang shows your language; /lang es switches to Spanish."""
        if not language.strip():
            choices = ", ".join(ctx.platform.languages())
            return Reply(t(ctx.language, "lang.current", language=ctx.language, choices=choices))
        code = ctx.platform.user_language_set(language.strip())
        return Reply(t(code, "lang.set"))
