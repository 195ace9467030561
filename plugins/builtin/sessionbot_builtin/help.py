from plugins.api import Context, Plugin, Reply, command
from sessionbot_builtin.messages import t


class Help(Plugin):
    """List the commands this user may run, or show one command's manual."""

    @command("help", summary="List the commands you may use, or explain one")
    def help(self, ctx: Context, name: str = "") -> Reply:
        """/help lists the commands you may use with their summaries; /help COMMAND explains one."""
        prefix = "/"
        name = name.strip()
        if name:
            return Reply(self._one(ctx, name.lstrip(prefix).split()[0]))
        lines = [t(ctx.language, "help.title")]
        for info in ctx.platform.commands():
            word = f"{info.prefix or prefix}{info.name}"  # an older bot's command keeps its own: !echo
            lines.append(f"{word} — {info.summary}" if info.summary else word)
        lines.append(t(ctx.language, "help.more", prefix=prefix))
        return Reply("\n".join(lines))

    def _one(self, ctx: Context, name: str) -> str:
        doc = ctx.platform.command_doc(name)
        if doc is None:
            return t(ctx.language, "help.unknown", name=name)
        parts = [doc.title or name]
        if doc.body:
            parts.append(doc.body)
        if doc.usage:
            parts.append(t(ctx.language, "help.usage", usage=doc.usage))
        return "\n\n".join(parts)
