from plugins.api import Context, Plugin, PluginError, Reply, command


class Checked(Plugin):
    """Declares its health check in plugins.yaml (a method or a command), not by override."""

    @command("status", summary="Reports its status")
    def status(self, ctx: Context) -> Reply:
        if not ctx.is_admin:
            raise PluginError("admins only")
        return Reply(f"status fine ({ctx.config.get('region', 'nowhere')})")

    @command("outage", summary="Reports an outage")
    def outage(self, ctx: Context) -> Reply:
        raise PluginError("upstream down")

    def probe(self) -> str:
        return "probe fine"

    def health_check(self) -> str:
        raise RuntimeError("the default check ran instead of the declared one")
