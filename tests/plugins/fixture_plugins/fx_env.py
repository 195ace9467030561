import os
import uuid

from plugins.api import Context, Plugin, Reply, command

# One per host process (each host is pid 2 in a PID namespace of its own).
HOST = uuid.uuid4().hex[:12]


def _show(name: str) -> Reply:
    return Reply(f"{name}={os.environ.get(name, '<unset>')} host={HOST}")


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
