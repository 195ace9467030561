"""Installing plugins from a source: the CLI, the service and the failure that names its step."""

from __future__ import annotations

import textwrap
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from plugins.execution import pool_close
from plugins.install import plugin_install, plugin_uninstall, plugin_upgrade
from plugins.installplan import InstallError
from plugins.models import BuildState, Plugin, PluginVersion
from plugins.snapshots import version_digest
from tests.plugins.conftest import ask

pytestmark = pytest.mark.django_db

CODE = '''
from plugins.api import Context, Plugin, Reply, command


class Thing(Plugin):
    @command("{command}", summary="Say a word")
    def run(self, ctx: Context) -> Reply:
        """Answer with the word."""
        return Reply("{answer}")
'''


def plugin_folder(tmp_path: Path, *, name: str, version: str = "1.0.0", answer: str = "hello", body: str = "") -> Path:
    """A plugin folder as an author publishes it: a package and its sessionbot-plugin.yaml."""
    folder = tmp_path / f"src-{name}"
    package = folder / f"pkg_{name.replace('-', '_')}"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(textwrap.dedent(body or CODE.format(command=name, answer=answer)))
    (folder / "sessionbot-plugin.yaml").write_text(
        f"name: {name}\nversion: '{version}'\nentrypoint: pkg_{name.replace('-', '_')}:Thing\n"
    )
    return folder


@pytest.fixture
def name() -> str:
    return f"p{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def _hosts_closed():
    yield
    pool_close()


def test_a_folder_installs_activates_and_answers(tmp_path, name) -> None:
    lines: list[tuple[str, str]] = []
    version = plugin_install(source=str(plugin_folder(tmp_path, name=name)), progress=lambda s, t: lines.append((s, t)))
    assert (version.plugin.name, version.version, version.source_kind) == (name, "1.0.0", "folder")
    assert version.build_state == BuildState.READY
    assert version_digest(version=version)
    assert Plugin.objects.get(name=name).active_version_id == version.pk
    assert [c.name for c in version.commands.all()] == [name]
    assert {"copy", "manifest", "check", "activate"} <= {step for step, _ in lines}
    assert ask(f"/{name}")[0] == "hello"


def test_installing_the_same_folder_again_is_unchanged(tmp_path, name) -> None:
    folder = plugin_folder(tmp_path, name=name)
    first = plugin_install(source=str(folder))
    lines: list[str] = []
    again = plugin_install(source=str(folder), progress=lambda step, _line: lines.append(step))
    assert again.pk == first.pk
    assert "unchanged" in lines
    assert PluginVersion.objects.filter(plugin__name=name).count() == 1


def test_changed_code_under_the_same_number_is_a_new_version(tmp_path, name) -> None:
    folder = plugin_folder(tmp_path, name=name)
    first = plugin_install(source=str(folder))
    plugin_folder(tmp_path, name=name, answer="bonjour")
    second = plugin_install(source=str(folder))
    assert second.pk != first.pk
    assert second.version.startswith("1.0.0+")
    assert ask(f"/{name}")[0] == "bonjour"


def test_a_version_that_does_not_load_is_failed_and_the_serving_one_keeps_serving(tmp_path, name) -> None:
    folder = plugin_folder(tmp_path, name=name)
    good = plugin_install(source=str(folder))
    plugin_folder(tmp_path, name=name, version="2.0.0", body="raise RuntimeError('broken on purpose')\n")
    with pytest.raises(InstallError) as caught:
        plugin_install(source=str(folder))
    assert caught.value.step == "check"
    assert "broken on purpose" in caught.value.message
    failed = PluginVersion.objects.get(plugin__name=name, version="2.0.0")
    assert failed.build_state == BuildState.FAILED
    assert "broken on purpose" in failed.build_error
    assert Plugin.objects.get(name=name).active_version_id == good.pk
    assert ask(f"/{name}")[0] == "hello"
    with pytest.raises(CommandError, match=r"step check: .*broken on purpose"):
        call_command("plugins", "install", str(folder), stdout=StringIO())
    with pytest.raises(CommandError, match="cannot serve"):
        call_command("plugins", "activate", name, "2.0.0", stdout=StringIO())


def test_a_fixed_version_replaces_its_failed_row(tmp_path, name) -> None:
    folder = plugin_folder(tmp_path, name=name, body="1 / 0\n")
    with pytest.raises(InstallError):
        plugin_install(source=str(folder))
    assert Plugin.objects.get(name=name).active_version is None
    plugin_folder(tmp_path, name=name)
    version = plugin_install(source=str(folder))
    assert version.version == "1.0.0"
    assert version.build_state == BuildState.READY
    assert not version.build_error


def test_no_activate_installs_beside_the_serving_version(tmp_path, name) -> None:
    folder = plugin_folder(tmp_path, name=name)
    good = plugin_install(source=str(folder))
    plugin_folder(tmp_path, name=name, version="1.1.0", answer="new")
    out = StringIO()
    call_command("plugins", "install", str(folder), "--no-activate", stdout=out)
    assert f"{name} 1.1.0" in out.getvalue()
    assert "copy: " in out.getvalue()
    assert Plugin.objects.get(name=name).active_version_id == good.pk


def test_a_folder_without_a_manifest_says_what_is_missing(tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CommandError, match=r"step manifest: .*sessionbot-plugin\.yaml"):
        call_command("plugins", "install", str(empty), stdout=StringIO())


def test_upgrade_installs_what_the_source_holds_now(tmp_path, name) -> None:
    folder = plugin_folder(tmp_path, name=name)
    plugin_install(source=str(folder))
    plugin_folder(tmp_path, name=name, version="1.2.0", answer="upgraded")
    version = plugin_upgrade(name=name)
    assert version.version == "1.2.0"
    assert ask(f"/{name}")[0] == "upgraded"


def test_uninstall_keeps_the_data_unless_purged(tmp_path, name) -> None:
    plugin_install(source=str(plugin_folder(tmp_path, name=name)))
    data = Path(settings.PLUGIN_DATA_DIR) / name
    data.mkdir(parents=True, exist_ok=True)
    (data / "notes.txt").write_text("keep me")
    out = StringIO()
    call_command("plugins", "uninstall", name, stdout=out)
    assert not Plugin.objects.filter(name=name).exists()
    assert "its data stays" in out.getvalue()
    assert (data / "notes.txt").read_text() == "keep me"
    plugin_install(source=str(plugin_folder(tmp_path, name=name)))
    assert plugin_uninstall(name=name, purge=True) == f"{name} uninstalled."
    assert not data.exists()


def test_an_importplugins_entry_with_a_source_installs_through_the_same_path(tmp_path, name) -> None:
    folder = plugin_folder(tmp_path, name=name)
    plugins_file = tmp_path / "plugins.yaml"
    plugins_file.write_text(f"plugins:\n  - name: {name}\n    source: {folder}\n    default_policy: admins\n")
    out = StringIO()
    call_command("importplugins", str(plugins_file), stdout=out)
    assert f"created: {name} 1.0.0" in out.getvalue()
    assert f"activated: {name} 1.0.0" in out.getvalue()
    plugin = Plugin.objects.get(name=name)
    assert plugin.default_policy == "admins"
    assert plugin.active_version is not None
    assert plugin.active_version.source == str(folder)
    out = StringIO()
    call_command("importplugins", str(plugins_file), stdout=out)
    assert f"unchanged: {name} 1.0.0" in out.getvalue()


def test_an_importplugins_entry_whose_source_fails_names_entry_and_step(tmp_path, name) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    plugins_file = tmp_path / "plugins.yaml"
    plugins_file.write_text(f"plugins:\n  - name: {name}\n    source: {empty}\n")
    with pytest.raises(CommandError, match=rf"entry 1 \({name}\): source: manifest: .*sessionbot-plugin\.yaml"):
        call_command("importplugins", str(plugins_file), stdout=StringIO())


def test_an_entry_needs_a_version_and_entrypoint_unless_it_names_a_source(tmp_path) -> None:
    plugins_file = tmp_path / "plugins.yaml"
    plugins_file.write_text("plugins:\n  - {name: a, entrypoint: 'a:A'}\n")
    with pytest.raises(CommandError, match=r"entry 1 \(a\): version: this field is required"):
        call_command("importplugins", str(plugins_file), stdout=StringIO())


def test_uninstall_refuses_while_an_active_plugin_depends_on_it(tmp_path, name) -> None:
    plugin_install(source=str(plugin_folder(tmp_path, name=name)))
    other = f"{name}x"
    folder = plugin_folder(tmp_path, name=other)
    (folder / "sessionbot-plugin.yaml").write_text(
        (folder / "sessionbot-plugin.yaml").read_text() + f"dependencies: {{{name}: '>=1'}}\n"
    )
    plugin_install(source=str(folder))
    with pytest.raises(CommandError, match=rf"step uninstall: {other} depend on {name}"):
        call_command("plugins", "uninstall", name, stdout=StringIO())
    assert Plugin.objects.filter(name=name).exists()


def test_another_source_cannot_take_over_an_installed_plugins_name(tmp_path, name) -> None:
    good = plugin_install(source=str(plugin_folder(tmp_path, name=name)))
    impostor = plugin_folder(tmp_path / "elsewhere", name=name, version="9.0.0", answer="taken over")
    with pytest.raises(InstallError) as caught:
        plugin_install(source=str(impostor))
    assert caught.value.step == "manifest"
    assert str(good.source) in caught.value.message
    assert Plugin.objects.get(name=name).active_version_id == good.pk
    assert ask(f"/{name}")[0] == "hello"
