"""``plugins install`` of a source without a manifest: read as an older bot's plugin, as
``importplugins`` reads the older plugins.yaml, and answering its ``!`` word."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from plugins.execution import pool_close
from plugins.models import Invocation, Plugin, PluginCommand, PluginVersion
from plugins.snapshots import version_digest
from tests.plugins.legacy.test_legacy_import import NOTEBOOK, _say
from tests.plugins.legacy.trees import SETUP, git_commit, git_repository, older_plugin, plugins_yaml

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _hosts_closed():
    yield
    pool_close()


def _install(source: str, *args: str) -> str:
    out = StringIO()
    call_command("plugins", "install", source, *args, stdout=out)
    return out.getvalue()


def test_a_folder_without_a_manifest_installs_as_an_older_bots_plugin(tmp_path) -> None:
    tree = older_plugin(tmp_path / "src")
    output = _install(str(tree))
    assert "manifest: no sessionbot-plugin.yaml: reading echo as an older bot's plugin" in output
    assert "echo 0.1.0 (folder" in output
    version = Plugin.objects.get(name="echo").active_version
    assert version is not None
    assert (version.version, version.api, version.source_kind, version.source) == (
        "0.1.0",
        "legacy",
        "folder",
        str(tree),
    )
    command = PluginCommand.objects.get(version=version)
    assert (command.prefix, command.name, command.summary) == ("!", "echo", "Repeat what you write.")
    text, inv = _say("echo", "echo", "hi")
    assert (text, inv.status) == ("hi", Invocation.Status.OK)
    assert "unchanged" in _install(str(tree))


def test_install_and_importplugins_make_the_same_version_of_an_older_plugin(tmp_path) -> None:
    tree = older_plugin(tmp_path / "src")
    url = git_repository(tree)
    _install(url)
    installed = PluginVersion.objects.get(plugin__name="echo")
    out = StringIO()
    path = plugins_yaml(tmp_path / "plugins.yaml", f"plugins:\n  - name: echo\n    url: {url}\n")
    call_command("importplugins", str(path), stdout=out, stderr=out)
    assert f"unchanged: echo {installed.version}" in out.getvalue(), out.getvalue()
    imported = PluginVersion.objects.get(plugin__name="echo")
    assert imported.pk == installed.pk
    assert (imported.checksum, version_digest(version=imported)) == (
        installed.checksum,
        version_digest(version=installed),
    )


def test_an_older_plugin_from_git_upgrades_to_its_next_commit(tmp_path, settings) -> None:
    settings.PLUGIN_DATA_DIR = tmp_path / "plugin-data"
    tree = older_plugin(tmp_path / "src", "notebook", module=NOTEBOOK)
    url = git_repository(tree)
    _install(url)
    first = Plugin.objects.get(name="notebook").active_version
    assert first is not None
    assert first.version == f"0.1.0+g{first.resolved[:7]}"
    assert _say("notebook", "note", "buy milk")[0] == "noted"
    (tree / "README").write_text("moved on\n")
    git_commit(tree)
    out = StringIO()
    call_command("plugins", "upgrade", "notebook", stdout=out)
    second = Plugin.objects.get(name="notebook").active_version
    assert second is not None
    assert second.pk != first.pk
    assert second.version == f"0.1.0+g{second.resolved[:7]}"
    assert (Path(settings.PLUGIN_DATA_DIR) / "notebook" / "data" / "notes.txt").read_text() == "buy milk\n"


def test_a_source_with_neither_manifest_nor_older_plugin_class_names_the_step(tmp_path) -> None:
    tree = older_plugin(tmp_path / "src", module="def hello():\n    return 'no Plugin here'\n")
    with pytest.raises(CommandError) as caught:
        _install(str(tree))
    assert str(caught.value) == (
        "install failed at step manifest: the source has no sessionbot-plugin.yaml and is no older bot's "
        "plugin either (a module <name>/<name>.py with a Plugin class); add a sessionbot-plugin.yaml"
    )
    assert not Plugin.objects.filter(name="echo").exists()


def test_an_older_plugin_whose_requirement_cannot_be_resolved_fails_at_that_step(tmp_path) -> None:
    tree = older_plugin(tmp_path / "src", requires=("no-such-distribution-here==9.9",))
    with pytest.raises(CommandError, match=r"(?s)install failed at step resolve: .*no-such-distribution-here"):
        _install(str(tree))
    assert not Plugin.objects.filter(name="echo", active_version__isnull=False).exists()
    failed = PluginVersion.objects.get(plugin__name="echo")
    assert failed.build_state == "failed"
    assert failed.build_error.startswith("resolve: ")
    assert "no-such-distribution-here" in failed.build_error


def test_a_failed_build_of_an_older_plugins_next_version_leaves_the_serving_one(tmp_path) -> None:
    tree = older_plugin(tmp_path / "src")
    url = git_repository(tree)
    _install(url)
    serving = PluginVersion.objects.get(plugin__name="echo")
    setup = SETUP.format(package="echo-plugin", version='"0.1.0"', requires=["no-such-distribution-here==9.9"])
    (tree / "setup.py").write_text(setup)
    git_commit(tree)
    with pytest.raises(CommandError, match="upgrade failed at step resolve"):
        call_command("plugins", "upgrade", "echo", stdout=StringIO())
    plugin = Plugin.objects.get(name="echo")
    assert plugin.active_version_id == serving.pk
    failed = plugin.versions.exclude(pk=serving.pk).get()
    assert (failed.build_state, failed.resolved != serving.resolved) == ("failed", True)
    assert _say("echo", "echo", "still here")[0] == "still here"


def test_an_index_that_plugin_sources_refuses_is_never_resolved_from(tmp_path, settings) -> None:
    settings.PLUGIN_INDEX_URL = "https://pypi.example/simple"
    tree = older_plugin(tmp_path / "src", requires=("legacy-words==1.0",))
    with pytest.raises(CommandError) as caught:
        _install(str(tree))
    assert str(caught.value) == (
        "install failed at step source: plugin_sources.indexes does not list https://pypi.example/simple "
        "(it allows: https://pypi.org/simple)"
    )
