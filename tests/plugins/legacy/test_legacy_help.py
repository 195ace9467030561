"""An older bot's !word is a command like the others: /help lists and explains it with its prefix."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.plugins.conftest import ask, derive, install
from tests.plugins.legacy.trees import older_plugin, plugins_yaml

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def plugins(plugin_roots, tmp_path: Path) -> None:
    for name, entrypoint, commands in [
        ("echo", "sessionbot_builtin.echo:Echo", ["echo"]),
        ("help", "sessionbot_builtin.help:Help", ["help"]),
    ]:
        derive(install(name, entrypoint, commands))
    tree = older_plugin(tmp_path / "src", "parrot")
    path = plugins_yaml(tmp_path / "plugins.yaml", f"plugins:\n  - name: parrot\n    url: {tree}\n")
    call_command("importplugins", str(path), stdout=StringIO(), stderr=StringIO())


def test_help_lists_the_older_bots_word_with_its_own_prefix_beside_the_bots_commands() -> None:
    assert ask("/help")[0].splitlines() == [
        "Commands you can use:",
        "/echo — Repeat your text",
        "!echo — Repeat what you write.",
        "/help — List the commands you may use, or explain one",
        "Send /help COMMAND for details.",
    ]


def test_help_explains_the_word_written_with_its_prefix_and_the_bots_command_without() -> None:
    assert ask("/help !echo")[0] == "Repeat what you write.\n\nUsage: !echo [text…]"
    assert ask("/help echo")[0].startswith("Repeat your text\n\n/echo TEXT answers TEXT")
