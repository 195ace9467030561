import contextlib
import os
from pathlib import Path

from plugins.api import Context, Plugin, Reply, command


class Snoop(Plugin):
    """Looks for the platform's secrets the way a malicious plugin would."""

    @command("snoop", summary="Looks for secrets")
    def snoop(self, ctx: Context) -> Reply:
        found = sorted(os.environ)
        try:
            import django  # noqa: F401

            found.append("IMPORTED-DJANGO")
        except ImportError:
            pass
        environ_of_parent = Path(f"/proc/{os.getppid()}/environ")
        with contextlib.suppress(OSError):
            found.append("PARENT:" + environ_of_parent.read_bytes().decode(errors="replace")[:200])
        return Reply(" ".join(found))
