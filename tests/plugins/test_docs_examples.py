"""The plugin guide's examples give the replies the guide says, in every language."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from plugins.testing import PluginRunner

DOCS = Path(__file__).resolve().parents[2] / "docs"
GUIDES = [DOCS / "plugins.md", DOCS / "es" / "plugins.md", DOCS / "zh-hans" / "plugins.md"]


def _blocks(text: str) -> list[str]:
    return re.findall(r"^ *```python\n(.*?)^ *```", text, flags=re.S | re.M)


def _namespace(guide: Path) -> dict[str, Any]:
    """Every Python block of the guide that defines a plugin, run in one namespace."""
    namespace: dict[str, Any] = {"__name__": f"guide_{guide.parent.name}"}
    for block in _blocks(guide.read_text(encoding="utf-8")):
        if "class " in block:
            exec(compile(_dedent(block), str(guide), "exec"), namespace)
    return namespace


def _dedent(block: str) -> str:
    lines = block.splitlines()
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    return "\n".join(line[indent:] for line in lines) + "\n"


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: str(p.relative_to(DOCS)))
def test_the_guides_test_passes_against_the_guides_plugin(guide: Path, plugin_runner: PluginRunner) -> None:
    namespace = _namespace(guide)
    tests = [b for b in _blocks(guide.read_text(encoding="utf-8")) if b.startswith("def test_")]
    assert tests, "the guide shows a test"
    for block in tests:
        exec(compile(block, str(guide), "exec"), namespace)
        test = next(v for k, v in namespace.items() if k.startswith("test_"))
        test(plugin_runner)


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: str(p.relative_to(DOCS)))
def test_the_guides_plain_text_handler_answers_as_shown(guide: Path, plugin_runner: PluginRunner) -> None:
    chat = _namespace(guide)["Chat"]
    assert plugin_runner(chat, "hello").text == "You said 5 characters. Try /help."


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: str(p.relative_to(DOCS)))
def test_the_guides_usage_line_is_the_one_the_bot_answers(guide: Path, plugin_runner: PluginRunner) -> None:
    assert "`Usage: /forecast <days:int> <city…>`" in guide.read_text(encoding="utf-8")
    assert (
        plugin_runner("weather_example.plugin:Weather", "/forecast soon Paris").text
        == "Usage: /forecast <days:int> <city…>"
    )
