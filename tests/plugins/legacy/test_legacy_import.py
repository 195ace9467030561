"""The older bot's plugins.yaml and plugins, imported as they are and answering their ``!`` words."""

from __future__ import annotations

import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from plugins.lifecycle import plugin_action
from plugins.models import Invocation, Plugin, PluginCommand, PluginSecret, PluginVersion
from plugins.sandbox.snapshot import SnapshotError
from plugins.services import invocation_create, invocation_execute
from plugins.snapshots import code_store, version_code
from tests.plugins.conftest import USER, replies, user
from tests.plugins.legacy.trees import git_commit, git_repository, older_plugin, plugins_yaml

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


def test_the_notices_say_what_is_read_differently_and_nothing_is_refused(tmp_path) -> None:
    tree = older_plugin(tmp_path / "src")
    text = f"plugins:\n  - name: echo\n    package: echo-plugin\n    url: {tree}\n    keep: true\n"
    output = _import(plugins_yaml(tmp_path / "plugins.yaml", text))
    notices = [line for line in output.splitlines() if line.startswith("notice: ")]
    assert [n.split(": ")[2] for n in notices] == ["url", "package", "keep", "network"]
    assert "plugins: 1 created" in output


def test_an_unchanged_tree_is_unchanged_and_an_edited_one_updated(tmp_path) -> None:
    tree = older_plugin(tmp_path / "src")
    path = plugins_yaml(tmp_path / "plugins.yaml", f"plugins:\n  - name: echo\n    url: {tree}\n")
    _import(path)
    assert "unchanged: echo 0.1.0" in _import(path)
    (tree / "echo" / "interfaces.py").write_text((tree / "echo" / "interfaces.py").read_text() + "\n# edited\n")
    assert "updated: echo 0.1.0" in _import(path)


def test_a_word_another_plugin_serves_with_the_same_prefix_is_refused_another_prefix_is_not(tmp_path) -> None:
    first = older_plugin(tmp_path / "one", "echo")
    path = plugins_yaml(tmp_path / "plugins.yaml", f"plugins:\n  - name: echo\n    url: {first}\n")
    _import(path)
    plugin = Plugin.objects.create(name="slash")
    version = plugin.versions.create(version="1.0.0", entrypoint="x:Y")
    PluginCommand.objects.create(version=version, name="echo")  # /echo: another prefix, no clash
    Plugin.objects.filter(pk=plugin.pk).update(active_version=version)
    second = older_plugin(tmp_path / "two", "parrot")  # answers !echo too
    other = plugins_yaml(tmp_path / "other.yaml", f"plugins:\n  - name: parrot\n    url: {second}\n")
    with pytest.raises(CommandError) as caught:
        _import(other)
    assert "command '!echo', which plugin 'echo' serves too" in str(caught.value)


def test_a_url_that_is_neither_folder_nor_repository_names_the_entry(tmp_path) -> None:
    path = plugins_yaml(tmp_path / "plugins.yaml", f"plugins:\n  - name: echo\n    url: {tmp_path}/gone\n")
    with pytest.raises(CommandError) as caught:
        _import(path)
    assert f"entry 1 (echo): url: {tmp_path}/gone is not a folder (nor a git URL)" in str(caught.value)


NOTEBOOK = """
import os

HERE = os.path.dirname(os.path.abspath(__file__))


class Note:
    async def notify(self, msg, to, attachments):
        with open(os.path.join(HERE, "data", "notes.txt"), "a") as f:
            f.write(msg + "\\n")
        await self.observable.notify("noted", to, [])

    def prefix(self):
        return "!note"


class Plugin:
    def __init__(self, observable):
        self.observable = observable

    def start(self):
        note = Note()
        note.observable = self.observable
        self.observable.subscribe(note)
"""


def test_a_git_url_pins_the_commit_and_a_moved_branch_is_a_new_version(tmp_path, settings) -> None:
    settings.PLUGIN_DATA_DIR = tmp_path / "plugin-data"
    tree = older_plugin(tmp_path / "src", "notebook", module=NOTEBOOK)
    url = git_repository(tree)
    path = plugins_yaml(tmp_path / "plugins.yaml", f"plugins:\n  - name: notebook\n    url: {url}\n")
    first = _import(path)
    assert "created: notebook 0.1.0+g" in first
    assert "unchanged: notebook 0.1.0+g" in _import(path)
    version = Plugin.objects.get(name="notebook").active_version
    assert version is not None
    assert (version.source_kind, version.source, len(version.resolved)) == ("git", url, 40)
    assert version.version == f"0.1.0+g{version.resolved[:7]}"
    # Its package's data folder, written from its sandboxed host, is the plugin's own data folder.
    assert _say("notebook", "note", "buy milk")[0] == "noted"
    assert (Path(settings.PLUGIN_DATA_DIR) / "notebook" / "data" / "notes.txt").read_text() == "buy milk\n"
    (tree / "README").write_text("moved on\n")
    git_commit(tree)
    assert "updated: notebook 0.1.0+g" in _import(path)
    assert Plugin.objects.get(name="notebook").versions.count() == 2


def test_a_reload_starts_the_pinned_tree_again_and_a_machine_without_it_says_what_to_do(tmp_path) -> None:
    tree = older_plugin(tmp_path / "src")
    _import(plugins_yaml(tmp_path / "plugins.yaml", f"plugins:\n  - name: echo\n    url: {tree}\n"))
    assert plugin_action(action="reload", name="echo") == "echo reloaded."
    assert _say("echo", "echo", "still here")[0] == "still here"
    version = Plugin.objects.get(name="echo").active_version
    assert version is not None
    shutil.rmtree(code_store() / "echo")
    with pytest.raises(SnapshotError, match=r"import its plugins\.yaml on this machine too"):
        version_code(version=version)


KEYHOLDER = """
import os


class Key:
    async def notify(self, msg, to, attachments):
        await self.observable.notify(os.environ.get(msg, "unset"), to, [])

    def prefix(self):
        return "!env"


class Plugin:
    def __init__(self, observable):
        self.observable = observable

    def start(self):
        key = Key()
        key.observable = self.observable
        self.observable.subscribe(key)
"""


@pytest.mark.usefixtures("plugin_secrets_key")
def test_env_of_the_older_file_is_this_plugins_secret_and_reaches_its_host_only(tmp_path) -> None:
    mine = older_plugin(tmp_path / "src", "keyholder", module=KEYHOLDER)
    other = older_plugin(tmp_path / "src", "neighbour", module=KEYHOLDER.replace("!env", "!env2"))
    text = f"""
    plugins:
      - name: keyholder
        url: {mine}
        env:
          - OPENAI_API_KEY: "sk-older-1234"
      - name: neighbour
        url: {other}
    """
    output = _import(plugins_yaml(tmp_path / "plugins.yaml", text))
    assert "sk-older-1234" not in output
    assert PluginSecret.objects.filter(plugin__name="keyholder", key="OPENAI_API_KEY").exists()
    assert "sk-older-1234" not in str(PluginVersion.objects.get(plugin__name="keyholder").manifest)
    assert _say("keyholder", "env", "OPENAI_API_KEY")[0] == "sk-older-1234"
    assert _say("neighbour", "env2", "OPENAI_API_KEY")[0] == "unset"


def test_a_url_the_operators_sources_refuse_is_refused_with_the_rule(tmp_path, settings) -> None:
    settings.BOT_CONFIG = settings.BOT_CONFIG.model_copy(
        update={"plugin_sources": settings.BOT_CONFIG.plugin_sources.model_copy(update={"local": False})}
    )
    tree = older_plugin(tmp_path / "src")
    path = plugins_yaml(tmp_path / "plugins.yaml", f"plugins:\n  - name: echo\n    url: {tree}\n")
    with pytest.raises(CommandError, match=r"entry 1 \(echo\): url: plugin_sources\.local is false"):
        _import(path)
