"""The older bot's pure rules: command words, its plugins.yaml, setup.py versions. Table tests."""

from __future__ import annotations

import pytest

from broker.command_rules import CommandMatch, command_match
from plugins.legacy.words import WordError, command_word_split
from plugins.legacyinstall.oldformat import legacy_format_is, legacy_translate
from plugins.legacyinstall.setupinfo import ProjectInfo, legacy_version, project_merge, pyproject_read, setup_py_read
from plugins.manifest import ManifestError, manifest_notices, manifest_parse


@pytest.mark.parametrize(
    ("word", "split"),
    [
        ("!echo", ("!", "echo")),
        ("!coco", ("!", "coco")),
        ("!Echo", ("!", "echo")),
        ("?ask-me", ("?", "ask-me")),
        ("!!llm", ("!!", "llm")),
        ("$run_2", ("$", "run_2")),
    ],
)
def test_a_command_word_splits_into_its_own_prefix_and_name(word, split) -> None:
    assert command_word_split(word) == split


@pytest.mark.parametrize("word", ["echo", "!", "! echo", "!echo now", "!!!!!echo", "", "!é", "!_x", None, 3])
def test_a_word_without_prefix_or_name_is_refused(word) -> None:
    with pytest.raises(WordError):
        command_word_split(word)


@pytest.mark.parametrize(
    ("text", "own", "match"),
    [
        ("/echo hi", {"!"}, CommandMatch("/", "echo", "hi", own=False)),
        ("!echo hi", {"!"}, CommandMatch("!", "echo", "hi", own=True)),
        ("!echo", {"!"}, CommandMatch("!", "echo", "", own=True)),
        ("!Echo  two words", {"!"}, CommandMatch("!", "echo", "two words", own=True)),
        ("!!llm why", {"!", "!!"}, CommandMatch("!!", "llm", "why", own=True)),
        ("!echo hi", set(), None),  # no command brings "!": plain text
        ("hello !echo", {"!"}, None),
        ("!", {"!"}, None),
        ("!echo!", {"!"}, None),
        ("/ping", {"", "/"}, CommandMatch("/", "ping", "", own=False)),
    ],
)
def test_a_message_names_a_command_after_the_bots_prefix_or_a_commands_own(text, own, match) -> None:
    assert command_match(text, bot_prefix="/", own_prefixes=own) == match


OLDER = """
plugins:
  - name: coco
    package: coco-plugin
    url: /srv/plugins/coco
    enabled: false
  - name: echo
    package: echo
    url: https://github.com/owner/echo
    enabled: true
    env:
      - OPENAI_API_KEY: "sk-x"
  - name: coco
    package: coco-plugin
    url: https://github.com/owner/coco
    enabled: true
    keep: true
"""


def test_the_older_file_is_read_as_is_the_later_entry_winning() -> None:
    manifest = manifest_parse(text=OLDER, file="plugins.yaml")
    assert manifest.plugins == ()
    assert [(e.index, e.name, e.url, e.enabled) for e in manifest.legacy] == [
        (1, "echo", "https://github.com/owner/echo", True),
        (2, "coco", "https://github.com/owner/coco", True),
    ]
    assert manifest.legacy[0].env == [{"OPENAI_API_KEY": "sk-x"}]


def test_each_field_read_differently_gets_one_notice_line() -> None:
    lines = manifest_notices(manifest_parse(text=OLDER, file="plugins.yaml"))
    assert lines == (
        "plugins.yaml: entry 3 (coco): name: also entry 1; the later entry wins, as in the older bot",
        "plugins.yaml: url: installed into an environment of its own (with its setup.py requirements), "
        "not into the bot's, and pinned to the commit or files it resolved to",
        "plugins.yaml: env: stored as this plugin's secrets, given to its host only (never to other plugins "
        "or the worker)",
        "plugins.yaml: package: not needed; the plugin's own setup.py names its distribution",
        "plugins.yaml: keep: ignored (not a field of the older bot's format)",
        "plugins.yaml: network: the older format cannot say; these plugins start without network access "
        "(allow it per version in the admin)",
    )
    assert not any("sk-x" in line for line in lines)


@pytest.mark.parametrize(
    ("entries", "older"),
    [
        ([{"name": "a", "url": "/x"}], True),
        ([{"name": "a", "package": "a"}], True),
        ([{"name": "a", "url": "/x", "version": "1"}], False),
        ([{"name": "a", "entrypoint": "a:A"}, {"name": "b", "url": "/x"}], False),
        ([{"name": "a", "version": "1.0", "entrypoint": "a:A"}], False),
        ([], False),
        (["text"], False),
    ],
)
def test_the_older_format_is_told_by_url_or_package_without_version_or_entrypoint(entries, older) -> None:
    assert legacy_format_is(entries) is older


@pytest.mark.parametrize(
    ("entry", "field", "reason"),
    [
        ({"url": "/x"}, "name", "this field is required"),
        ({"name": "my-plugin", "url": "/x"}, "name", "imported by its name"),
        ({"name": "echo", "package": "echo"}, "url", "this field is required"),
        ({"name": "echo", "url": "/x", "enabled": "yes"}, "enabled", "true or false"),
    ],
)
def test_an_older_entry_that_cannot_be_read_names_its_field(entry, field, reason) -> None:
    with pytest.raises(ManifestError) as caught:
        legacy_translate(entries=[entry], file="plugins.yaml")
    assert (caught.value.field, caught.value.index) == (field, 0)
    assert reason in caught.value.reason


SETUP = """
from setuptools import setup, find_packages

VERSION = "1.2"
setup(
    name="coco-plugin",
    version=VERSION,
    packages=find_packages(),
    install_requires=["requests>=2", "openai"],
)
"""


@pytest.mark.parametrize(
    ("text", "info"),
    [
        (SETUP, ProjectInfo("coco-plugin", "1.2", ("requests>=2", "openai"))),
        ("import setuptools\nsetuptools.setup(name='x', version='0.1')", ProjectInfo("x", "0.1", ())),
        ("from setuptools import setup\nsetup(name='x', version=open('V').read())", ProjectInfo("x", "", ())),
        ("setup(", ProjectInfo()),
        ("print('no setup here')", ProjectInfo()),
        ("setup(install_requires='a\\n# c\\nb')", ProjectInfo("", "", ("a", "b"))),
    ],
)
def test_setup_py_is_read_without_running_it(text, info) -> None:
    assert setup_py_read(text) == info


def test_pyproject_gives_its_static_project_table() -> None:
    text = '[project]\nname = "x"\nversion = "2.0"\ndependencies = ["dep==1"]\n'
    assert pyproject_read(text) == ProjectInfo("x", "2.0", ("dep==1",))
    assert pyproject_read("[project\n") == ProjectInfo()
    found = project_merge(ProjectInfo("x", "", ()), ProjectInfo("y", "1.0", ("a",)))
    assert found == ProjectInfo("x", "1.0", ("a",))


@pytest.mark.parametrize(
    ("declared", "resolved", "commit", "version"),
    [
        ("0.1.0", "", False, "0.1.0"),
        ("", "", False, "0"),
        ("not a version", "", False, "0"),
        ("1.0", "ABCDEF1234567890", True, "1.0+gabcdef1"),
        ("", "abcdef1234567890", True, "0+gabcdef1"),
        ("1.0+local", "abcdef1234567890", True, "1.0+local.gabcdef1"),
        ("01.0", "", False, "1.0"),
    ],
)
def test_a_legacy_version_comes_from_setup_py_and_the_commit(declared, resolved, commit, version) -> None:
    assert legacy_version(declared=declared, resolved=resolved, commit=commit) == version
