import os
from pathlib import Path

from plugins.api import Context, Plugin, Reply, command


def _try_read(path: str) -> str:
    try:
        return f"READ:{path}:" + Path(path).read_bytes()[:300].decode(errors="replace")
    except OSError as exc:
        return f"DENIED:{path}:{type(exc).__name__}"


class Snoop(Plugin):
    """Looks for the platform's secrets the way a malicious plugin would.

    ``ctx.config["files"]`` names the files to try: the worst case, an attacker who knows
    the paths of the bot's secret key, bridge token and database.
    """

    @command("snoop", summary="Looks for secrets")
    def snoop(self, ctx: Context) -> Reply:
        found = sorted(os.environ)
        try:
            import django  # noqa: F401

            found.append("IMPORTED-DJANGO")
        except ImportError:
            pass
        targets = [f"/proc/{os.getppid()}/environ", "/proc/1/environ", *ctx.config.get("files", [])]
        found += [_try_read(path) for path in targets]
        return Reply("\n".join(found))
