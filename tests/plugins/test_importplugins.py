"""importplugins: all or nothing, idempotent, version bumps, and one clear line per bad file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from plugins.models import Plugin, PluginCommand, PluginVersion
from plugins.snapshots import version_digest
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db

PLUGIN_CODE = """
from plugins.api import Context, Plugin, Reply, command


class {cls}(Plugin):
    @command("{command}", summary="{summary}")
    def run(self, ctx: Context, city: str = "") -> Reply:
        \"\"\"{help}\"\"\"
        return Reply("{answer}")
"""


@dataclass
class PluginRoot:
    """A plugin root (on ``settings.PLUGIN_ROOTS``) and a way to write modules into it."""

    path: Path
    write_file: Callable[..., str]

    def module(
        self,
        *,
        command: str = "go",
        answer: str = "ok",
        cls: str = "Thing",
        summary: str = "Weather now",
        catalog: str = "",
        name: str = "",
    ) -> str:
        """Write a plugin module (new and uniquely named unless ``name``); return ``module:Class``.

        ``catalog`` is the text of its translations file, ``<module>.docs.json``.
        """
        name = name or f"tp_{uuid.uuid4().hex[:10]}"
        code = PLUGIN_CODE.format(cls=cls, command=command, answer=answer, summary=summary, help="The sky over CITY.")
        if catalog:
            (self.path / f"{name}.docs.json").write_text(catalog)
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


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plugins.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def _run(path: Path, *args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("importplugins", str(path), *args, stdout=out, stderr=out)
    return out.getvalue()


def _weather(entrypoint: str, version: str = "1.0.0", requirements: str = "[]") -> str:
    return f"""
    plugins:
      - name: weather
        version: "{version}"
        entrypoint: {entrypoint}
        requirements: {requirements}
        default_policy: listed
        config: {{units: metric}}
        commands:
          - name: go
            filters: {{conversation_type: private}}
    """


LEGACY = """
plugins:
  - name: weather
    version: "1.0.0"
    entrypoint: EP
    docs:
      en: {title: Weather, body: Weather for a city}
    commands:
      - name: go
        summary: What the file says
        args: [{name: rest, type: rest, required: false}]
        docs:
          es: {title: Tiempo, body: El tiempo}
"""


def test_a_first_import_creates_plugin_version_and_the_commands_its_code_declares(tmp_path, plugin_root) -> None:
    catalog = '{"es": {"go": {"summary": "El tiempo ahora", "help": "El cielo sobre CIUDAD."}}}'
    entrypoint = plugin_root.module(command="go", catalog=catalog)
    output = _run(_write(tmp_path, _weather(entrypoint)))
    assert "created: weather 1.0.0" in output
    assert "plugins: 1 created, 0 updated, 0 unchanged" in output
    plugin = Plugin.objects.get(name="weather")
    assert plugin.active_version is not None
    assert plugin.active_version.version == "1.0.0"
    assert plugin.default_policy == "listed"
    assert plugin.config == {"units": "metric"}
    assert len(plugin.active_version.checksum) == 64
    command = PluginCommand.objects.get(version=plugin.active_version)
    assert (command.name, command.summary, command.help) == ("go", "Weather now", "The sky over CITY.")
    assert command.args == [{"name": "city", "type": "str", "required": False, "rest": True}]
    assert command.docs == {"es": {"summary": "El tiempo ahora", "help": "El cielo sobre CIUDAD."}}
    assert (command.filters, command.policy) == ({"conversation_type": "private"}, "")


def test_a_file_in_the_older_format_imports_with_one_notice_per_field_the_code_supplies(tmp_path, plugin_root) -> None:
    path = _write(tmp_path, LEGACY.replace("EP", plugin_root.module(command="go")))
    output = _run(path)
    assert "created: weather 1.0.0" in output
    notices = [line for line in output.splitlines() if line.startswith("notice: ")]
    assert notices == [
        f"notice: {path}: entry 1 (weather): docs: ignored, the plugin's code and its catalog supply the docs",
        f"notice: {path}: entry 1 (weather): commands.go.summary: ignored, the plugin's code supplies it",
        f"notice: {path}: entry 1 (weather): commands.go.args: ignored, the plugin's code supplies it",
        f"notice: {path}: entry 1 (weather): commands.go.docs: ignored, the plugin's code supplies it",
    ]
    command = PluginCommand.objects.get()
    assert (command.summary, command.docs) == ("Weather now", {})  # the code's, not the file's
    assert command.args == [{"name": "city", "type": "str", "required": False, "rest": True}]


def test_a_catalog_that_names_a_missing_command_leaves_the_entry_out(tmp_path, plugin_root) -> None:
    entrypoint = plugin_root.module(command="go", catalog='{"es": {"rain": {"summary": "Lluvia"}}}')
    with pytest.raises(CommandError, match=r"\.docs\.json: es\.rain: the plugin has no command 'rain'"):
        _run(_write(tmp_path, _weather(entrypoint)))
    assert not Plugin.objects.exists()


def test_a_command_the_code_does_not_declare_is_refused(tmp_path, plugin_root) -> None:
    text = _weather(plugin_root.module(command="go")).replace("- name: go", "- name: gone")
    with pytest.raises(
        CommandError, match=r"commands.gone: the plugin's code declares no command 'gone' \(it has: go\)"
    ):
        _run(_write(tmp_path, text))
    assert not Plugin.objects.exists()


def test_a_health_check_command_must_be_one_the_code_declares(tmp_path, plugin_root) -> None:
    text = _weather(plugin_root.module(command="go")).rstrip() + "\n        health_check: {command: nope}\n"
    with pytest.raises(
        CommandError, match=r"health_check\.command: 'nope' is not one of the commands its code declares"
    ):
        _run(_write(tmp_path, text))


def test_a_reload_derives_the_commands_from_the_new_code(tmp_path, plugin_root) -> None:
    entrypoint = plugin_root.module(command="go")
    _run(_write(tmp_path, _weather(entrypoint)))
    module = entrypoint.split(":")[0]
    plugin_root.module(command="now", summary="Weather at once", name=module)
    call_command("plugins", "reload", "weather", stdout=StringIO())
    version = Plugin.objects.get(name="weather").active_version
    assert list(PluginCommand.objects.filter(version=version).values_list("name", "summary")) == [
        ("now", "Weather at once")
    ]


@pytest.mark.parametrize(("configured", "warned"), [("weather", False), ("nosuch", True), (None, False)])
def test_a_configured_default_handler_that_is_not_installed_is_named(tmp_path, plugin_root, configured, warned) -> None:
    from sessionbot.botconfig import BotConfig

    entrypoint = plugin_root.module(command="go")
    with override_settings(BOT_CONFIG=BotConfig(default_handler=configured)):
        output = _run(_write(tmp_path, _weather(entrypoint)))
    line = "warning: config.yaml: default_handler: no plugin named 'nosuch' is installed; plain text goes unanswered"
    assert (line in output) is warned, output


def test_a_second_import_of_the_same_file_changes_nothing(tmp_path, plugin_root) -> None:
    path = _write(tmp_path, _weather(plugin_root.module()))
    _run(path)
    before = list(PluginVersion.objects.values_list("pk", "checksum", "imported_at"))
    output = _run(path)
    assert "unchanged: weather 1.0.0" in output
    assert "plugins: 0 created, 0 updated, 1 unchanged" in output
    assert list(PluginVersion.objects.values_list("pk", "checksum", "imported_at")) == before


def test_admin_changes_survive_a_reimport_of_an_unchanged_entry(tmp_path, plugin_root) -> None:
    path = _write(tmp_path, _weather(plugin_root.module()))
    _run(path)
    Plugin.objects.filter(name="weather").update(enabled=False)
    _run(path)
    assert Plugin.objects.get(name="weather").enabled is False


def test_editing_an_entry_without_a_new_version_updates_it_in_place(tmp_path, plugin_root) -> None:
    entrypoint = plugin_root.module()
    _run(_write(tmp_path, _weather(entrypoint)))
    output = _run(_write(tmp_path, _weather(entrypoint).replace("{conversation_type: private}", "{}")))
    assert "updated: weather 1.0.0" in output
    assert PluginVersion.objects.count() == 1
    assert PluginCommand.objects.get().filters == {}


def test_a_version_bump_adds_and_activates_a_version_and_keeps_the_old_one(tmp_path, plugin_root) -> None:
    entrypoint = plugin_root.module()
    _run(_write(tmp_path, _weather(entrypoint)))
    output = _run(_write(tmp_path, _weather(entrypoint, version="1.1.0")))
    assert "updated: weather 1.1.0" in output
    assert "activated: weather 1.1.0" in output
    plugin = Plugin.objects.get(name="weather")
    assert sorted(plugin.versions.values_list("version", flat=True)) == ["1.0.0", "1.1.0"]
    assert plugin.active_version is not None
    assert plugin.active_version.version == "1.1.0"
    assert PluginCommand.objects.filter(version__version="1.0.0").exists()


def test_a_version_equal_by_pep_440_is_the_installed_one_not_a_new_one(tmp_path, plugin_root) -> None:
    entrypoint = plugin_root.module()
    _run(_write(tmp_path, _weather(entrypoint, version="1.0.0")))
    _run(_write(tmp_path, _weather(entrypoint, version="1.0.0").replace("units: metric", "units: imperial")))
    output = _run(_write(tmp_path, _weather(entrypoint, version="1")))
    assert "updated: weather 1" in output
    plugin = Plugin.objects.get(name="weather")
    assert list(plugin.versions.values_list("version", flat=True)) == ["1.0.0"]


def test_a_version_written_v1_is_refused(tmp_path, plugin_root) -> None:
    with pytest.raises(CommandError, match="version: 'v1' is not written as PEP 440 normalizes it: write '1'"):
        _run(_write(tmp_path, _weather(plugin_root.module(), version="v1")))
    assert not Plugin.objects.exists()


def test_a_dry_run_reports_what_would_happen_and_changes_nothing(tmp_path, plugin_root) -> None:
    output = _run(_write(tmp_path, _weather(plugin_root.module())), "--dry-run")
    assert "dry run: nothing was changed" in output
    assert "created: weather 1.0.0" in output
    assert not Plugin.objects.exists()


def test_an_unmet_python_requirement_installs_but_does_not_activate(tmp_path, plugin_root) -> None:
    text = _weather(plugin_root.module(), requirements='["nonexistent-dist-xyz>=1"]')
    output = _run(_write(tmp_path, text))
    assert "weather 1.0.0 installed but not activated" in output
    assert "nonexistent-dist-xyz is not installed" in output
    assert Plugin.objects.get(name="weather").active_version is None


def test_a_new_version_that_cannot_be_activated_leaves_the_serving_one_its_settings(tmp_path, plugin_root) -> None:
    entrypoint = plugin_root.module()
    _run(_write(tmp_path, _weather(entrypoint)))
    blocked = _weather(entrypoint, version="2.0.0", requirements='["nonexistent-dist-xyz>=1"]')
    blocked = blocked.replace("default_policy: listed", "default_policy: admins").replace("metric", "imperial")
    assert "weather 2.0.0 installed but not activated" in _run(_write(tmp_path, blocked))
    plugin = Plugin.objects.select_related("active_version").get(name="weather")
    # 1.0.0 serves on, under its own settings (they once became 2.0.0's: its config, its policy).
    assert plugin.active_version is not None
    serving = (plugin.active_version.version, plugin.config, plugin.default_policy)
    assert serving == ("1.0.0", {"units": "metric"}, "listed")


def test_a_blocked_version_is_activated_with_its_settings_once_it_can_be(tmp_path, plugin_root, monkeypatch) -> None:
    entrypoint = plugin_root.module()
    _run(_write(tmp_path, _weather(entrypoint)))
    blocked = _weather(entrypoint, version="2.0.0", requirements='["nonexistent-dist-xyz>=1"]')
    path = _write(tmp_path, blocked.replace("metric", "imperial"))
    assert "installed but not activated" in _run(path)
    # The operator installs the missing distribution (a name no index has: the check is told
    # it is met), then imports the same file again.
    from plugins import versions

    monkeypatch.setattr(versions, "requirement_problem", lambda *, plugin, requirement: None)
    assert "activated: weather 2.0.0" in _run(path).splitlines()
    plugin = Plugin.objects.select_related("active_version").get(name="weather")
    assert plugin.active_version is not None
    assert (plugin.active_version.version, plugin.config) == ("2.0.0", {"units": "imperial"})


def test_the_shipped_plugins_file_imports_and_activates_every_plugin(settings) -> None:
    from plugins.manifest import manifest_load

    shipped = ROOT / "data" / "plugins.yaml"
    names = {entry.name for entry in manifest_load(path=shipped).plugins}
    settings.PLUGIN_ROOTS = [ROOT / "plugins" / "builtin"]
    assert f"plugins: {len(names)} created, 0 updated, 0 unchanged" in _run(shipped)
    assert set(Plugin.objects.exclude(active_version=None).values_list("name", flat=True)) == names
    assert set(Plugin.objects.values_list("load_state", flat=True)) == {"loaded"}  # its code loaded on import
    assert f"plugins: 0 created, 0 updated, {len(names)} unchanged" in _run(shipped)


BAD_FILES = {
    "broken YAML": ("plugins: [\n  - name: a\n", "plugins.yaml: line 2: not valid YAML"),
    "missing field": (
        "plugins:\n  - {name: a, entrypoint: 'EP'}\n",
        "plugins.yaml: entry 1 (a): version: this field is required",
    ),
    "bad version": (
        "plugins:\n  - {name: a, version: 'v-one', entrypoint: 'EP'}\n",
        "plugins.yaml: entry 1 (a): version: 'v-one' is not a PEP 440 version",
    ),
    "entrypoint outside the plugin roots": (
        "plugins:\n  - {name: a, version: '1', entrypoint: 'os.path:join'}\n",
        "plugins.yaml: entry 1 (a): entrypoint: module os is not found in the plugin roots",
    ),
    "entrypoint through a symlink out of the roots": (
        "plugins:\n  - {name: a, version: '1', entrypoint: 'linked:Thing'}\n",
        "plugins.yaml: entry 1 (a): entrypoint: module linked resolves to",
    ),
    "entrypoint that fails to import": (
        "plugins:\n  - {name: a, version: '1', entrypoint: 'BROKEN:Thing'}\n",
        "plugins.yaml: entry 1 (a): entrypoint: cannot import BROKEN: ZeroDivisionError: division by zero",
    ),
    "entrypoint without the class": (
        "plugins:\n  - {name: a, version: '1', entrypoint: 'EPMODULE:Missing'}\n",
        "has no attribute Missing",
    ),
    "unknown dependency": (
        "plugins:\n  - {name: a, version: '1', entrypoint: 'EP', dependencies: {ghost: '>=1'}}\n",
        "plugins.yaml: entry 1 (a): dependencies.ghost: a depends on plugin 'ghost', which is not installed",
    ),
    "unsatisfiable constraint": (
        "plugins:\n  - {name: a, version: '1', entrypoint: 'EP', dependencies: {b: '>=2'}}\n"
        "  - {name: b, version: '1.5', entrypoint: 'EP2'}\n",
        "plugins.yaml: entry 1 (a): dependencies.b: a needs b>=2, but only b 1.5 is installed",
    ),
    "duplicate names": (
        "plugins:\n  - {name: a, version: '1', entrypoint: 'EP'}\n  - {name: a, version: '2', entrypoint: 'EP2'}\n",
        "plugins.yaml: entry 2 (a): name: duplicate name: entry 1 is also 'a'",
    ),
    "dependency cycle": (
        "plugins:\n  - {name: a, version: '1', entrypoint: 'EP', dependencies: {b: '>=1'}}\n"
        "  - {name: b, version: '1', entrypoint: 'EP2', dependencies: {a: '>=1'}}\n",
        "dependencies: dependency cycle: a -> b -> a",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_changes_nothing_and_names_file_entry_field_and_reason(case, tmp_path, plugin_root) -> None:
    good = _write(tmp_path, _weather(plugin_root.module(command="go")))
    _run(good)
    before = list(PluginVersion.objects.values_list("pk", "version", "checksum"))
    text, message = BAD_FILES[case]
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "linked.py").write_text("raise SystemExit('must never run')\n")
    (plugin_root.path / "linked.py").symlink_to(outside / "linked.py")
    broken = plugin_root.write_file(f"broken_{os.getpid()}_{case[:3].replace(' ', '')}", "1 / 0\n")
    ep = plugin_root.module(command="one", cls="Thing")
    text = (
        text.replace("EP2", plugin_root.module(command="two"))
        .replace("EPMODULE", ep.split(":")[0])
        .replace("'EP'", f"'{ep}'")
        .replace("BROKEN", broken)
    )
    with pytest.raises(CommandError) as caught:
        _run(_write(tmp_path, text))
    assert caught.value.returncode == 1
    assert message.replace("BROKEN", broken) in str(caught.value)
    assert str(caught.value).endswith("(nothing imported)")
    assert list(PluginVersion.objects.values_list("pk", "version", "checksum")) == before
    assert list(Plugin.objects.values_list("name", flat=True)) == ["weather"]


def test_a_command_served_by_another_installed_plugin_is_refused(tmp_path, plugin_root) -> None:
    _run(_write(tmp_path, _weather(plugin_root.module(command="go"))))
    other = "plugins:\n  - {name: other, version: '1', entrypoint: 'EP', commands: [{name: go}]}\n"
    with pytest.raises(CommandError, match="its code declares command 'go', which plugin 'weather' serves too"):
        _run(_write(tmp_path, other.replace("EP", plugin_root.module(command="go"))))


def test_the_command_exits_1_with_one_line_on_stderr(tmp_path) -> None:
    path = _write(tmp_path, "plugins:\n  - {name: a, version: 'x.y', entrypoint: 'a:A'}\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATA_DIR": str(tmp_path / "data")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "importplugins", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"CommandError: {path}: entry 1 (a): version: 'x.y' is not a PEP 440 version such as 1.0.0 (nothing imported)"
    )
    assert "Traceback" not in result.stderr


def test_the_default_handler_moves_to_the_plugin_the_file_names(tmp_path, plugin_root) -> None:
    line = "  - {{name: {n}, version: '1', entrypoint: '{ep}', default_handler: {h}}}\n"
    first = "plugins:\n" + line.format(n="a", ep=plugin_root.module(command="x"), h="true")
    first += line.format(n="b", ep=plugin_root.module(command="y"), h="false")
    _run(_write(tmp_path, first))
    swapped = first.replace("true", "maybe").replace("false", "true").replace("maybe", "false")
    _run(_write(tmp_path, swapped))
    assert list(Plugin.objects.filter(default_handler=True).values_list("name", flat=True)) == ["b"]


def test_a_default_handler_outside_the_file_is_not_taken_over(tmp_path, plugin_root) -> None:
    Plugin.objects.create(name="chatty", default_handler=True)
    text = f"plugins:\n  - {{name: a, version: '1', entrypoint: '{plugin_root.module()}', default_handler: true}}\n"
    with pytest.raises(CommandError, match="default_handler: plugin 'chatty' is already the default handler"):
        _run(_write(tmp_path, text))
    assert Plugin.objects.get(name="chatty").default_handler is True


def test_a_rollback_in_the_admin_survives_a_reimport_of_the_same_file(tmp_path, plugin_root) -> None:
    from plugins.versions import version_rollback

    entrypoint = plugin_root.module()
    _run(_write(tmp_path, _weather(entrypoint)))
    bumped = _write(tmp_path, _weather(entrypoint, version="1.1.0"))
    _run(bumped)
    assert version_rollback(plugin=Plugin.objects.get(name="weather")).version == "1.0.0"
    assert "unchanged: weather 1.1.0" in _run(bumped)
    active = Plugin.objects.get(name="weather").active_version
    assert active is not None
    assert active.version == "1.0.0"


def test_a_changed_helper_module_of_the_plugin_is_an_update_too(tmp_path, plugin_root) -> None:
    # The entrypoint's module is unchanged; a module beside it, which it imports, is not.
    package = plugin_root.path / f"tpkg_{uuid.uuid4().hex[:10]}"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helper.py").write_text('ANSWER = "one"\n')
    (package / "main.py").write_text(
        PLUGIN_CODE.format(cls="Thing", command="go", answer="ok", summary="Weather now", help="")
    )
    path = _write(tmp_path, _weather(f"{package.name}.main:Thing"))
    _run(path)
    before = version_digest(version=PluginVersion.objects.get())
    (package / "helper.py").write_text('ANSWER = "two"\n')
    output = _run(path)
    assert "updated: weather 1.0.0" in output
    after = version_digest(version=PluginVersion.objects.get())
    assert after
    assert after != before  # the version now pins the new code
