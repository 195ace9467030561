import os

from plugins.api import Context, Plugin, Reply, command


def _show(name: str) -> Reply:
    return Reply(f"{name}={os.environ.get(name, '<unset>')} pid={os.getpid()}")


class EnvA(Plugin):
    """Shows a variable of its host's environment: where its secrets arrive."""

    @command("enva", summary="Shows a variable")
    def enva(self, ctx: Context, name: str) -> Reply:
        return _show(name)


class EnvB(Plugin):
    """Another plugin, to show that it never sees the first one's secrets."""

    @command("envb", summary="Shows a variable")
    def envb(self, ctx: Context, name: str) -> Reply:
        return _show(name)
