"""Installing plugins from a source: the CLI, the service and the failure that names its step."""

from __future__ import annotations

import textwrap
import time
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from plugins.execution import pool_close
from plugins.health import health_checks_run
from plugins.install import plugin_install, plugin_uninstall, plugin_upgrade
from plugins.installplan import InstallError
from plugins.models import BuildState, Invocation, Plugin, PluginVersion
from plugins.queues import queue_served_forget
from plugins.snapshots import version_digest
from tests.plugins.conftest import ask, enqueue, replies

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


SLOW = """
from plugins.api import Context, Plugin, Reply, command


class Slow(Plugin):
    @command("{name}", summary="Think for a long time")
    def think(self, ctx: Context) -> Reply:
        return Reply("thought")

    @command("{name}-alive", summary="Say whether the model answers")
    def alive(self, ctx: Context) -> Reply:
        return Reply("the model answers")
"""


def slow_folder(tmp_path: Path, name: str, *, health_command: str = "") -> Path:
    """A plugin whose own manifest puts it on the ``llm`` queue, with a health check."""
    folder = plugin_folder(tmp_path, name=name, body=SLOW.format(name=name))
    manifest = folder / "sessionbot-plugin.yaml"
    manifest.write_text(
        manifest.read_text().replace(":Thing", ":Slow")
        + "queue: llm\n"
        + f"health_check: {{command: {health_command or name + '-alive'}, interval_seconds: 60}}\n"
    )
    return folder


@pytest.mark.django_db(transaction=True)
def test_the_plugins_own_queue_and_health_check_are_applied(tmp_path, name) -> None:
    queue_served_forget()
    call_command("plugins", "install", str(slow_folder(tmp_path, name)), stdout=StringIO())
    version = Plugin.objects.get(name=name).active_version
    assert version is not None
    assert version.queue == "llm"
    assert version.manifest["health_check"] == {
        "command": f"{name}-alive",
        "method": None,
        "interval_seconds": 60.0,
    }
    assert health_checks_run(force=True) >= 1
    plugin = Plugin.objects.get(name=name)
    assert (plugin.health_status, plugin.health_detail) == ("ok", "the model answers")
    # No worker serves llm: the user hears "unavailable" at once, not after a timeout.
    started = time.monotonic()
    inv = enqueue(f"/{name}")
    inv.refresh_from_db()
    assert time.monotonic() - started < 5
    assert inv.status == Invocation.Status.FAILED
    assert replies(inv) == f"Sorry, /{name} is unavailable right now. Please try again later."
    assert "llm" in inv.error


@pytest.mark.django_db(transaction=True)
def test_the_operators_entry_overrides_the_plugins_queue_and_health_check(tmp_path, name) -> None:
    folder = slow_folder(tmp_path, name)
    plugins_file = tmp_path / "plugins.yaml"
    plugins_file.write_text(
        f"plugins:\n  - name: {name}\n    source: {folder}\n    queue: gpu\n"
        f"    health_check: {{command: {name}, interval_seconds: 600}}\n"
    )
    out = StringIO()
    call_command("importplugins", str(plugins_file), stdout=out, stderr=out)
    assert f"activated: {name} 1.0.0" in out.getvalue(), out.getvalue()
    version = PluginVersion.objects.get(plugin__name=name)
    assert version.queue == "gpu"
    assert version.manifest["health_check"]["command"] == name
    assert version.manifest["health_check"]["interval_seconds"] == 600.0


def test_a_health_check_naming_no_command_of_the_code_fails_at_the_check(tmp_path, name) -> None:
    folder = slow_folder(tmp_path, name, health_command="missing")
    with pytest.raises(CommandError, match=r"step check: health_check\.command: 'missing' is not one of the commands"):
        call_command("plugins", "install", str(folder), stdout=StringIO())
    assert Plugin.objects.get(name=name).active_version is None
