import os
import threading
import time
from pathlib import Path

from plugins.api import Context, Plugin, Reply, command


def _spawn() -> None:
    """A child process and a thread that would both outlive the host if nobody stopped them."""
    pid = os.fork()
    if pid == 0:
        while True:
            time.sleep(1)
    threading.Thread(target=lambda: time.sleep(3600), daemon=False).start()
    Path("children").write_text(str(pid))


class Forks(Plugin):
    @command("spawn", summary="Leaves a child process and a thread running")
    def spawn(self, ctx: Context) -> Reply:
        _spawn()
        return Reply("spawned")

    @command("spawnhang", summary="Leaves a child process running and hangs")
    def spawnhang(self, ctx: Context) -> Reply:
        _spawn()
        time.sleep(3600)
        return Reply("never")
