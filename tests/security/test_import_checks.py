"""importplugins checks plugin code in a plugin host: its top-level code never runs here.

Importing a plugin's module runs whatever its top level says. ``importplugins`` did that
in its own process, which holds the database and the secret key; now each new or changed
entry is loaded in a plugin host (the same user, environment and limits as a serving
host), and code that does not load leaves out its own entry only.
"""

from __future__ import annotations

import json
import os
import textwrap
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from plugins.models import Plugin, PluginVersion
from plugins.sandbox import host
from tests.security.sandbox import sandbox_required

pytestmark = pytest.mark.django_db

EVIDENCE = """
import json, os, sys
from pathlib import Path

from plugins.api import Context, Plugin, Reply, command


def _readable(path):
    try:
        Path(path).read_bytes()
        return True
    except OSError:
        return False


# The evidence leaves through the only channel a confined host surely has: its load error.
raise RuntimeError("EVIDENCE" + json.dumps({{
    "pid": os.getpid(),
    "database_url": os.environ.get("DATABASE_URL"),
    "secret_key_env": os.environ.get("SECRET_KEY"),
    "secret_key_file": _readable({secret!r}),
    "django_loaded": "django" in sys.modules,
}}))


class Spy(Plugin):
    @command("spy")
    def spy(self, ctx: Context) -> Reply:
        return Reply("ok")
"""

GOOD = """
from plugins.api import Context, Plugin, Reply, command


class Thing(Plugin):
    @command("{command}")
    def run(self, ctx: Context) -> Reply:
        return Reply("ok")
"""

BAD = {
    "raises": ('raise RuntimeError("boom at import")\n', "cannot import {module}: RuntimeError: boom at import"),
    "exits": ("import sys\nsys.exit(3)\n", "cannot import {module}: SystemExit: 3"),
    "notplugin": ("class Thing:\n    pass\n", "{module}:Thing is not a subclass of plugins.api.Plugin"),
    "badinit": (
        GOOD.format(command="badinit") + "\n    def __init__(self):\n        raise ValueError('no config')\n",
        "the plugin did not start: ValueError: no config",
    ),
    "hog": ("HOG = bytearray(512 * 1024 * 1024)\n", "cannot import {module}: MemoryError"),
    "loops": ("while True:\n    pass\n", "the plugin did not load within 3 s"),
}


@pytest.fixture
def root(tmp_path: Path, settings) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    settings.PLUGIN_ROOTS = [folder]
    return folder


def _module(root: Path, code: str) -> str:
    name = f"ic_{uuid.uuid4().hex[:10]}"
    (root / f"{name}.py").write_text(textwrap.dedent(code))
    return name


def _import(tmp_path: Path, entries: list[str]) -> str:
    path = tmp_path / "plugins.yaml"
    path.write_text("plugins:\n" + "".join(f"  - {e}\n" for e in entries))
    out = StringIO()
    call_command("importplugins", str(path), stdout=out, stderr=out)
    return out.getvalue()


@pytest.mark.parametrize("isolation", ["host", "inline"])
def test_a_plugins_top_level_code_runs_in_a_host_without_secrets(tmp_path, root, monkeypatch, isolation):
    monkeypatch.setenv("DATABASE_URL", "postgres://sb:hunter2@db/sb")
    monkeypatch.setenv("SECRET_KEY", "not-for-plugins")
    code = EVIDENCE.format(secret=str(Path(settings.DATA_DIR) / "secret_key"))
    module = _module(root, code)
    with pytest.raises(CommandError) as caught:
        _import(tmp_path, [f"{{name: spy, version: '1', entrypoint: '{module}:Spy', isolation: {isolation}}}"])
    message = str(caught.value)
    assert "EVIDENCE" in message, "the plugin's module was never imported"
    seen = json.loads(message.split("EVIDENCE", 1)[1].splitlines()[0].removesuffix(" (nothing imported)"))
    assert seen["pid"] != os.getpid()
    assert (seen["database_url"], seen["secret_key_env"], seen["django_loaded"]) == (None, None, False)
    if os.geteuid() == 0:  # hosts run confined, where the key is not even mounted
        assert seen["secret_key_file"] is False


def test_code_that_does_not_load_leaves_out_its_entry_only(tmp_path, root, monkeypatch):
    monkeypatch.setattr(host, "START_TIMEOUT", 3.0)
    good = _module(root, GOOD.format(command="good"))
    bad = {name: _module(root, code) for name, (code, _) in BAD.items()}
    entries = [f"{{name: good, version: '1', entrypoint: '{good}:Thing'}}"]
    entries += [
        f"{{name: {name}, version: '1', entrypoint: '{module}:Thing', limits: {{memory_mb: 256}}}}"
        for name, module in bad.items()
    ]
    with pytest.raises(CommandError) as caught:
        _import(tmp_path, entries)
    lines = str(caught.value).splitlines()
    assert caught.value.returncode == 1
    for index, (name, (_, reason)) in enumerate(BAD.items(), start=2):
        expected = f"plugins.yaml: entry {index} (" + name + "): entrypoint: " + reason.format(module=bad[name])
        assert any(expected in line for line in lines), (expected, lines)
    assert lines[-1].endswith("(the other entries were imported)")
    assert list(Plugin.objects.values_list("name", flat=True)) == ["good"]
    assert Plugin.objects.get(name="good").active_version is not None


def test_an_entry_left_out_keeps_its_installed_version_serving(tmp_path, root):
    module = _module(root, GOOD.format(command="go"))
    _import(tmp_path, [f"{{name: thing, version: '1', entrypoint: '{module}:Thing'}}"])
    (root / f"{module}.py").write_text("raise RuntimeError('a bad edit')\n")
    with pytest.raises(CommandError, match=r"entry 1 \(thing\): entrypoint: cannot import .*a bad edit"):
        _import(tmp_path, [f"{{name: thing, version: '2', entrypoint: '{module}:Thing'}}"])
    active = Plugin.objects.get(name="thing").active_version
    assert active is not None
    assert active.version == "1"
    assert list(PluginVersion.objects.values_list("version", flat=True)) == ["1"]


def test_an_unchanged_file_starts_no_plugin_host(tmp_path, root, monkeypatch):
    entries = [
        f"{{name: p{i}, version: '1', entrypoint: '{_module(root, GOOD.format(command=f'c{i}'))}:Thing'}}"
        for i in range(3)
    ]
    _import(tmp_path, entries)

    def no_host(spec):
        raise AssertionError(f"a host was started for {spec.plugin}")

    monkeypatch.setattr("plugins.codecheck.Host", no_host)
    assert "plugins: 0 created, 0 updated, 3 unchanged" in _import(tmp_path, entries)


def test_a_reload_loads_the_code_in_a_host_too(tmp_path, root, monkeypatch):
    # manage.py plugins reload, the admin's reload action, the chat's /plugins reload and
    # the DEBUG watcher all reload through plugin_reload.
    monkeypatch.setenv("DATABASE_URL", "postgres://sb:hunter2@db/sb")
    module = _module(root, GOOD.format(command="spy"))
    _import(tmp_path, [f"{{name: spy, version: '1', entrypoint: '{module}:Thing', isolation: inline}}"])
    code = EVIDENCE.format(secret=str(Path(settings.DATA_DIR) / "secret_key")).replace("class Spy", "class Thing")
    (root / f"{module}.py").write_text(textwrap.dedent(code))
    out = StringIO()
    try:
        call_command("plugins", "reload", "spy", stdout=out, stderr=out)
    except CommandError as exc:
        out.write(str(exc))
    message = out.getvalue()
    assert "EVIDENCE" in message, message
    seen = json.loads(message.split("EVIDENCE", 1)[1].splitlines()[0].split("}", 1)[0] + "}")
    assert seen["pid"] != os.getpid()
    assert seen["database_url"] is None


def test_a_project_whose_data_lives_under_tmp_loads_its_plugins_in_the_sandbox(tmp_path, root, settings):
    # The sandbox mounts a private /tmp; the pinned code below it must still be there.
    sandbox_required()
    settings.DATA_DIR = tmp_path / "data"
    settings.PLUGIN_DATA_DIR = settings.DATA_DIR / "plugin-data"
    module = _module(root, GOOD.format(command="undertmp"))
    output = _import(tmp_path, [f"{{name: undertmp, version: '1', entrypoint: '{module}:Thing'}}"])
    assert str(tmp_path).startswith("/tmp/")
    assert "created: undertmp 1" in output
