from plugins.api import Context, Plugin, Reply, command


class Greeter(Plugin):
    @command("greet", summary="Greets")
    def greet(self, ctx: Context, name: str = "you") -> Reply:
        return Reply(f"Hello, {name}!")
