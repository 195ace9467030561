"""Fixtures for plugin tests: a temporary plugin root holding freshly written plugin code."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

PLUGIN_CODE = """
from plugins.api import Context, Plugin, Reply, command


class {cls}(Plugin):
    @command("{command}")
    def run(self, ctx: Context, rest: str = "") -> Reply:
        return Reply("{answer}")
"""


@dataclass
class PluginRoot:
    """A plugin root (on ``settings.PLUGIN_ROOTS``) and a way to write modules into it."""

    path: Path
    write_file: Callable[..., str]

    def module(self, *, command: str = "go", answer: str = "ok", cls: str = "Thing") -> str:
        """Write a new uniquely named plugin module; return its entrypoint ``module:Class``."""
        name = f"tp_{uuid.uuid4().hex[:10]}"
        code = PLUGIN_CODE.format(cls=cls, command=command, answer=answer)
        return self.write_file(name, code) + f":{cls}"


@pytest.fixture
def plugin_root(tmp_path: Path, settings) -> PluginRoot:
    root = tmp_path / "root"
    root.mkdir()
    settings.PLUGIN_ROOTS = [root]

    def write_file(module: str, code: str) -> str:
        (root / f"{module}.py").write_text(textwrap.dedent(code))
        return module

    return PluginRoot(path=root, write_file=write_file)
