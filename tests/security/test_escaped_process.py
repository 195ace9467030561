"""A plugin's processes end with its host, even one that left the host's process group.

A child that calls ``setsid()`` leaves the host's process group; the host is a child
subreaper, so it stays a descendant, and the worker kills every descendant with the host.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from django.conf import settings

from plugins.execution import pool_close
from tests.plugins.conftest import ask, install, user
from tests.plugins.test_isolation_worker import host_uid, seen_from_outside

ESCAPE = """
import os
from pathlib import Path

from plugins.api import Context, Plugin, command


class Escape(Plugin):
    @command("escape")
    def escape(self, ctx: Context) -> str:
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                import time
                Path("escaped.pid").write_text(str(os.getpid()))
                while True:
                    time.sleep(1)
            os._exit(0)
        import time
        for _ in range(100):
            if Path("escaped.pid").exists():
                break
            time.sleep(0.05)
        return "ok"
"""


@pytest.mark.django_db(transaction=True)
def test_a_process_that_left_the_host_group_dies_with_the_host(plugin_roots: Path) -> None:
    (plugin_roots / "fx_escape.py").write_text(ESCAPE)
    install("escape", "fx_escape:Escape", ["escape"])
    user()
    pid_file = Path(settings.PLUGIN_DATA_DIR) / "escape" / "escaped.pid"
    pid_file.unlink(missing_ok=True)
    reply, _ = ask("/escape")
    assert reply == "ok"
    pid = seen_from_outside(int(pid_file.read_text()), uid=host_uid("escape"))
    assert pid is not None
    pool_close()
    time.sleep(0.5)
    alive = _alive(pid)
    if alive:
        os.kill(pid, 9)  # do not leave it behind in the test run either
    assert not alive


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
