"""sessionbot-plugin.yaml read from a fetched tree, and an older bot's layout found."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from plugins.manifest import Limits, PluginEntry
from plugins.sources.pluginfile import (
    PluginFile,
    PluginFileError,
    legacy_layout,
    legacy_plugin_class,
    plugin_file_parse,
    plugin_file_read,
)

GOOD = "name: echo\nversion: '1.0.0'\nentrypoint: echo.plugin:Echo\n"


def write(tree: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text, encoding="utf-8")
    return tree


def test_it_reads_every_field() -> None:
    text = GOOD + (
        "summary: Says it back\nrequirements: ['httpx>=0.27']\ndependencies: {weather: '>=1'}\n"
        "network: true\nlimits: {timeout_seconds: 60, memory_mb: 512}\nqueue: llm\n"
    )
    assert plugin_file_parse(text) == PluginFile(
        name="echo",
        version="1.0.0",
        entrypoint="echo.plugin:Echo",
        summary="Says it back",
        requirements=("httpx>=0.27",),
        dependencies={"weather": ">=1"},
        network=True,
        limits=Limits(timeout_seconds=60, memory_mb=512),
        queue="llm",
    )


def test_the_fields_an_entry_shares_are_given_for_the_operators_entry_to_override() -> None:
    text = GOOD + "summary: Says it back\nnetwork: true\nlimits: {timeout_seconds: 60}\n"
    text += "health_check: {command: echo, interval_seconds: 60}\n"
    fields = plugin_file_parse(text).entry_fields()
    assert fields == {
        "name": "echo",
        "version": "1.0.0",
        "entrypoint": "echo.plugin:Echo",
        "network": True,
        "limits": {"timeout_seconds": 60.0},
        "health_check": {"command": "echo", "interval_seconds": 60.0},
    }
    assert PluginEntry.model_validate({**fields, "network": False}).network is False


def test_the_defaults_are_the_safe_ones() -> None:
    found = plugin_file_parse(GOOD)
    assert (found.requirements, found.network, found.queue, found.summary) == ((), False, "", "")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "sessionbot-plugin.yaml: the top level must be a mapping of fields"),
        ("- a\n", "sessionbot-plugin.yaml: the top level must be a mapping of fields"),
        ("name: [\n", "sessionbot-plugin.yaml: line 2: not valid YAML"),
        ("version: '1.0'\nentrypoint: a:b\n", "sessionbot-plugin.yaml: name: this field is required"),
        (GOOD.replace("echo\n", "Echo Bot\n", 1), "sessionbot-plugin.yaml: name: String should match pattern"),
        (GOOD.replace("'1.0.0'", "1.10"), 'version: write the version in quotes, such as "1.1"'),
        (GOOD.replace("'1.0.0'", "'v1'"), "version: 'v1' is not written as PEP 440 normalizes it: write '1'"),
        (GOOD.replace("'1.0.0'", "'one'"), "version: 'one' is not a PEP 440 version such as 1.0.0"),
        (GOOD.replace("echo.plugin:Echo", "echo.plugin"), "entrypoint: String should match pattern"),
        (GOOD + "requirements: ['not a req!']", "requirements: 'not a req!' is not a PEP 508 requirement"),
        (GOOD + "dependencies: {Bad Name: '>=1'}", "dependencies: 'Bad Name' is not a plugin name"),
        (GOOD + "dependencies: {w: 'x'}", "dependencies: w: 'x' is not a version constraint such as >=1.0,<2"),
        (GOOD + "queue: 'a b'", "queue: String should match pattern"),
        (GOOD + "limits: {timeout_seconds: 0}", "limits.timeout_seconds: Input should be greater than 0"),
        (GOOD + "network: maybe", "network: Input should be a valid boolean"),
        (GOOD + "enabled: true", "enabled: unknown field (check the spelling)"),
        (GOOD + "summary: '" + "x" * 201 + "'", "summary: String should have at most 200 characters"),
    ],
)
def test_an_invalid_manifest_names_the_field_and_the_reason_in_one_line(text, message) -> None:
    with pytest.raises(PluginFileError) as caught:
        plugin_file_parse(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "where", ["sessionbot-plugin.yaml", "echo/sessionbot-plugin.yaml", "src/echo/sessionbot-plugin.yaml"]
)
def test_it_finds_the_manifest_at_the_root_or_in_the_package(tmp_path, where) -> None:
    write(tmp_path, {where: GOOD, "tests/sessionbot-plugin.yaml": "broken: [", "echo/__init__.py": ""})
    found = plugin_file_read(tmp_path)
    assert found is not None
    assert found.name == "echo"


def test_the_root_manifest_wins_over_one_in_a_package(tmp_path) -> None:
    write(tmp_path, {"sessionbot-plugin.yaml": GOOD, "other/sessionbot-plugin.yaml": GOOD.replace("echo\n", "b\n", 1)})
    found = plugin_file_read(tmp_path)
    assert found is not None
    assert found.name == "echo"


def test_two_manifests_in_packages_are_an_error(tmp_path) -> None:
    write(tmp_path, {"a/sessionbot-plugin.yaml": GOOD, "b/sessionbot-plugin.yaml": GOOD})
    with pytest.raises(PluginFileError, match=re.escape("found more than one (a/sessionbot-plugin.yaml, b/")):
        plugin_file_read(tmp_path)


def test_a_tree_without_a_manifest_gives_none(tmp_path) -> None:
    write(tmp_path, {"echo/echo.py": ""})
    assert plugin_file_read(tmp_path) is None


def test_an_invalid_manifest_in_a_package_names_its_path(tmp_path) -> None:
    write(tmp_path, {"echo/sessionbot-plugin.yaml": "name: echo\n"})
    with pytest.raises(PluginFileError, match=r"^echo/sessionbot-plugin\.yaml: version: this field is required$"):
        plugin_file_read(tmp_path)


def test_a_manifest_that_is_a_link_is_refused_unread(tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("name: s3cret-value\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    os.symlink(secret, tree / "sessionbot-plugin.yaml")
    with pytest.raises(PluginFileError) as caught:
        plugin_file_read(tree)
    assert str(caught.value) == "sessionbot-plugin.yaml: must be a regular file, not a link"


def test_a_manifest_too_large_is_refused(tmp_path) -> None:
    write(tmp_path, {"sessionbot-plugin.yaml": GOOD + "#" * (300 * 1024)})
    with pytest.raises(PluginFileError, match=r"larger than 256 KB"):
        plugin_file_read(tmp_path)


@pytest.mark.parametrize(
    ("files", "name", "module"),
    [
        # The older loader's layout: <repo>/<name>/<name>.py, the inner folder without __init__.
        ({"echo/echo.py": "", "echo/interfaces.py": "", "setup.py": ""}, "", "echo"),
        ({"echo/echo.py": "", "tests/tests.py": ""}, "", "echo"),
        ({"echo/echo.py": ""}, "echo", "echo"),
        ({"echo/__init__.py": ""}, "echo", "echo"),
        ({"echo.py": ""}, "echo", "echo"),
        ({"echo/echo.py": ""}, "other", None),
        ({"echo/echo.py": ""}, "../echo", None),
        ({"a/a.py": "", "b/b.py": ""}, "", None),
        ({"setup.py": "from setuptools import setup\nsetup(name='x', packages=['coco', 'coco.sub'])\n"}, "", None),
        (
            {"setup.py": "import setuptools\nsetuptools.setup(packages=['coco.sub'])\n", "coco/__init__.py": ""},
            "",
            "coco",
        ),
        ({"setup.py": "from setuptools import setup\nsetup(py_modules=['llm'])\n", "llm.py": ""}, "", "llm"),
        ({"setup.py": "setup(packages=find_packages())\n", "pkg/__init__.py": "", "tests/__init__.py": ""}, "", "pkg"),
        ({"pyproject.toml": "", "pkg/__init__.py": ""}, "", "pkg"),
        ({"setup.py": "setup(packages=find_packages())\n", "a/__init__.py": "", "b/__init__.py": ""}, "", None),
        ({"pkg/__init__.py": ""}, "", None),
        ({"setup.py": "setup(packages=['tests'])\n", "tests/__init__.py": ""}, "", None),
        ({"setup.py": "this is not python(", "pkg/__init__.py": ""}, "", "pkg"),
        ({"README": ""}, "", None),
    ],
)
def test_it_finds_an_older_bots_module(tmp_path, files, name, module) -> None:
    write(tmp_path, files)
    assert legacy_layout(tmp_path, name=name) == module


def test_setup_py_is_read_never_run(tmp_path) -> None:
    marker = tmp_path / "ran"
    write(tmp_path, {"setup.py": f"open({str(marker)!r}, 'w')\nsetup(packages=['p'])\n", "p/__init__.py": ""})
    assert legacy_layout(tmp_path) == "p"
    assert not marker.exists()


@pytest.mark.parametrize(
    ("code", "found"),
    [
        ("class Plugin:\n    pass\n", True),
        ("from .core import Plugin\n", True),
        ("from core import Thing as Plugin\n", True),
        ("Plugin = make()\n", True),
        ("def start():\n    pass\n", False),
        ("class Plugins:\n    pass\n", False),
        ("def broken(:\n", True),  # the code check names the line
    ],
)
def test_an_older_plugins_class_is_found_without_running_its_module(tmp_path: Path, code: str, found: bool) -> None:
    (tmp_path / "echo").mkdir()
    (tmp_path / "echo" / "echo.py").write_text(code)
    assert legacy_plugin_class(tmp_path, "echo") is found
