"""PLUGINS_CONFINED_ONLY: a process that cannot confine plugin code (not root) runs none.

The process under test really runs as an unprivileged user (``setpriv`` from the root
test process), as the broker that serves the admin does in the shipped deployment. A
plugin whose module leaves a mark when it is imported shows whether its code ran.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.unprivileged import NOBODY, as_nobody, nobody_home, unprivileged_env

__all__ = ["nobody_home"]  # the fixture

SPY = """
from pathlib import Path

from plugins.api import Context, Plugin, Reply, command

Path({mark!r}).write_text("imported")


class Spy(Plugin):
    @command("spy", summary="Says hello")
    def spy(self, ctx: Context) -> Reply:
        return Reply("hello")
"""

CHECK = """
import json
import os
import sys
from pathlib import Path

import django

django.setup()
from plugins.codecheck import CodeCheck, codes_check
from plugins.execution import limits_or_defaults
from plugins.sandbox.snapshot import snapshot_take

store = Path(os.environ["DATA_DIR"]) / "snapshots"
code = snapshot_take(plugin="spy", entrypoint="spy:Spy", roots=[Path(sys.argv[1])], store=store)
limits = limits_or_defaults(timeout_seconds=None, memory_mb=None, cpu_seconds=None)
[result] = codes_check(checks=[CodeCheck(plugin="spy", entrypoint="spy:Spy", limits=limits, code=code)])
print(json.dumps({"uid": os.geteuid(), "error": result.error, "commands": [c["name"] for c in result.commands]}))
"""


def spy_check(home: Path, *, confined_only: str) -> tuple[dict[str, object], bool]:
    """Check the spy plugin's code as nobody; its report, and whether its module ran."""
    code = home / "code"
    code.mkdir(exist_ok=True)
    mark = home / "mark"
    (code / "spy.py").write_text(SPY.format(mark=str(mark)))
    for path in (code, code / "spy.py"):
        os.chown(path, NOBODY, NOBODY)
    env = unprivileged_env(home, PLUGINS_CONFINED_ONLY=confined_only)
    done = as_nobody(["-c", CHECK, str(code)], env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), mark.exists()


def test_a_process_that_is_not_root_starts_no_plugin_host_when_confinement_is_required(nobody_home) -> None:
    report, imported = spy_check(nobody_home, confined_only="true")
    assert report["uid"] == NOBODY
    assert not imported  # the plugin's code never ran
    assert report["commands"] == []
    assert "PLUGINS_CONFINED_ONLY=true" in str(report["error"])
    assert "does not run as root" in str(report["error"])


def test_without_the_setting_a_process_that_is_not_root_runs_plugins_as_its_own_user(nobody_home) -> None:
    report, imported = spy_check(nobody_home, confined_only="false")
    assert report == {"uid": NOBODY, "error": "", "commands": ["spy"]}
    assert imported


def test_the_setting_is_validated_like_the_others(nobody_home) -> None:
    env = unprivileged_env(nobody_home, PLUGINS_CONFINED_ONLY="maybe")
    done = as_nobody(["-c", "import django; django.setup()"], env=env)
    assert done.returncode != 0
    assert "PLUGINS_CONFINED_ONLY" in done.stderr
