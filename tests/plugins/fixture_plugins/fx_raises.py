from plugins.api import Context, Plugin, PluginError, Reply, command


class Raises(Plugin):
    @command("boom", summary="Has a bug")
    def boom(self, ctx: Context) -> Reply:
        return Reply(str(1 / 0))

    @command("refuse", summary="Refuses politely")
    def refuse(self, ctx: Context) -> Reply:
        raise PluginError("I will not do that.")

    def health_check(self) -> str:
        raise RuntimeError("the upstream service is down")
