"""The layer rules of pyproject.toml's ``[tool.importlinter]``, checked on this tree and on a broken copy."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "sessionbot",
    "bots",
    "broker",
    "plugins",
    "adminauth",
    "console",
    "bridge",
    "bridgeprotocol",
    "sessiontestnet",
)
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(where: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=where, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "migrations"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_this_tree_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract", "named"),
    [
        ("bridge/backoff.py", "import django.conf", "import no Django and no app", "bridge.backoff -> django"),
        ("bridge/store.py", "import broker.models", "import no Django and no app", "bridge.store -> broker.models"),
        ("plugins/commandline.py", "import broker.chunker", "never import the broker", "plugins.commandline -> broker"),
        ("sessionbot/dbretry.py", "import plugins.models", "core imports no app", "sessionbot.dbretry -> plugins"),
        ("broker/chunker.py", "import django.utils", "Pure cores import no Django", "broker.chunker -> django"),
        ("bridge/runtime.py", "import sessiontestnet.local", "test network", "bridge.runtime -> sessiontestnet"),
        ("bridge/brokerlink.py", "import asyncio", "protocol core does no I/O", "bridge.brokerlink -> asyncio"),
        ("plugins/sandbox/runner.py", "import psutil", "host's modules import no", "plugins.sandbox.runner -> psutil"),
        ("plugins/api.py", "import plugins.models", "host's modules import no", "plugins.api -> plugins.models"),
        ("bots/services.py", "import plugins.models", "bots know neither", "bots.services -> plugins"),
        ("bots/models.py", "import broker.models", "bots know neither", "bots.models -> broker"),
        ("broker/status.py", "import console.dashboard", "imports the console", "broker.status -> console"),
        ("console/charts.py", "import django.utils", "Pure cores import no Django", "console.charts -> django"),
    ],
)
def test_a_wrong_way_import_fails_with_the_import_named(
    tree_copy: Path, module: str, line: str, contract: str, named: str
) -> None:
    path = tree_copy / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    result = _lint(tree_copy)
    assert result.returncode != 0
    broken = [row for row in result.stdout.splitlines() if " BROKEN" in row]
    assert any(contract in row for row in broken), result.stdout
    assert named in result.stdout, result.stdout
