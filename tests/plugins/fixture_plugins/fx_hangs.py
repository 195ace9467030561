import time

from plugins.api import Context, Plugin, Reply, command


class Hangs(Plugin):
    @command("hang", summary="Never answers")
    def hang(self, ctx: Context) -> Reply:
        time.sleep(3600)
        return Reply("too late")


class Spins(Plugin):
    @command("spin", summary="Burns CPU")
    def spin(self, ctx: Context) -> Reply:
        while True:
            pass
