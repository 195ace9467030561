import os

from plugins.api import Context, Plugin, Reply, command


class Crash(Plugin):
    @command("crash", summary="Dies")
    def crash(self, ctx: Context) -> Reply:
        os._exit(3)
