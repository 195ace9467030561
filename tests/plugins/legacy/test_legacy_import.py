"""The older bot's plugins.yaml and plugins, imported as they are and answering their ``!`` words."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from plugins.models import Invocation, Plugin, PluginCommand
from plugins.services import invocation_create, invocation_execute
from tests.plugins.conftest import USER, replies, user
from tests.plugins.legacy.trees import older_plugin, plugins_yaml

pytestmark = pytest.mark.django_db


def _import(path: Path) -> str:
    out = StringIO()
    call_command("importplugins", str(path), stdout=out, stderr=out)
    return out.getvalue()


def _say(plugin: str, command: str, arguments: str) -> tuple[str, Invocation]:
    version = Plugin.objects.get(name=plugin).active_version
    assert version is not None
    inv = invocation_create(
        key=f"t-{plugin}-{command}-{arguments[:20]}",
        user=user(USER),
        version=version,
        command=command,
        arguments=arguments,
        conversation=USER,
        conversation_type="private",
        language="en",
    )
    invocation_execute(invocation_id=inv.pk)
    inv.refresh_from_db()
    return replies(inv), inv


def test_an_older_bots_file_and_plugin_are_imported_and_answer_their_word(tmp_path) -> None:
    tree = older_plugin(tmp_path / "src")
    path = plugins_yaml(
        tmp_path / "plugins.yaml",
        f"""
        plugins:
          - name: echo
            package: echo-plugin
            url: {tree}
            enabled: true
        """,
    )
    output = _import(path)
    assert "created: echo 0.1.0" in output, output
    version = Plugin.objects.get(name="echo").active_version
    assert version is not None
    assert (version.api, version.source_kind, version.source) == ("legacy", "folder", str(tree))
    command = PluginCommand.objects.get(version=version)
    assert (command.prefix, command.name, command.summary) == ("!", "echo", "Repeat what you write.")
    text, inv = _say("echo", "echo", "hi there")
    assert (text, inv.status) == ("hi there", Invocation.Status.OK)
