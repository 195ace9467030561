import os
import sys

from plugins.api import Context, Plugin, Reply, command


class Good(Plugin):
    @command("good", summary="Answers well")
    def good(self, ctx: Context, times: int = 1, word: str = "ok") -> Reply:
        return Reply(" ".join([word] * times))

    @command("where", summary="Says where it runs")
    def where(self, ctx: Context) -> Reply:
        django = "django" if "django" in sys.modules else "no-django"
        return Reply(f"pid={os.getpid()} cwd={os.getcwd()} {django} uid={os.getuid()}")

    @command("tamper", summary="Tries to edit its own code")
    def tamper(self, ctx: Context) -> Reply:
        try:
            with open(__file__, "a"):
                return Reply("edited")
        except OSError:
            return Reply("read-only")

    @command("count", summary="Counts in its storage")
    def count(self, ctx: Context) -> Reply:
        n = ctx.storage.get("n", 0) + 1
        ctx.storage.set("n", n)
        return Reply(str(n))

    def health_check(self) -> str:
        return "all good"
