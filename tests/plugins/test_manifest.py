"""plugins.yaml parsing: valid files become typed entries; every bad one is one clear line."""

from __future__ import annotations

import textwrap

import pytest

from plugins.manifest import ManifestError, manifest_load, manifest_notices, manifest_parse

GOOD = """
plugins:
  - name: weather
    version: "1.2.0"
    entrypoint: weather.main:Weather
    default_policy: listed
    isolation: inline
    limits: {timeout_seconds: 5, memory_mb: 128, cpu_seconds: 2}
    health_check: {method: healthy, interval_seconds: 60}
    config: {units: metric}
    dependencies: {geocode: ">=1.0,<2"}
    requirements: ["packaging>=20"]
    docs:
      en: {title: Weather, body: Current weather}
      zh-hans: {title: 天气}
    commands:
      - name: weather
        summary: Weather for a city
        policy: everyone
        args:
          - {name: days, type: int, required: true}
          - {name: city, type: rest, required: false, help: the city}
        filters: {conversation_type: private, has_attachments: false, languages: [en], groups: [beta]}
        docs:
          es: {title: Tiempo, body: El tiempo}
"""


def test_it_reads_every_field_of_a_full_entry() -> None:
    manifest = manifest_parse(text=GOOD, file="p.yaml")
    (entry,) = manifest.plugins
    assert entry.name == "weather"
    assert entry.version == "1.2.0"
    assert entry.default_policy == "listed"
    assert entry.isolation == "inline"
    assert entry.limits.memory_mb == 128
    assert entry.health_check is not None
    assert entry.health_check.method == "healthy"
    assert entry.dependencies == {"geocode": ">=1.0,<2"}
    cmd = entry.commands[0]
    assert (cmd.name, cmd.policy) == ("weather", "everyone")
    assert cmd.filters.languages == ("en",)


def test_fields_the_code_supplies_are_read_then_named_in_one_notice_each() -> None:
    manifest = manifest_parse(text=GOOD, file="p.yaml")
    assert manifest_notices(manifest) == (
        "p.yaml: entry 1 (weather): docs: ignored, the plugin's code and its catalog supply the docs",
        "p.yaml: entry 1 (weather): commands.weather.summary: ignored, the plugin's code supplies it",
        "p.yaml: entry 1 (weather): commands.weather.args: ignored, the plugin's code supplies it",
        "p.yaml: entry 1 (weather): commands.weather.docs: ignored, the plugin's code supplies it",
    )
    dumped = manifest.plugins[0].model_dump(mode="json")
    assert "docs" not in dumped
    assert set(dumped["commands"][0]) == {"name", "filters", "policy"}


def test_an_entry_without_them_has_no_notice() -> None:
    manifest = manifest_parse(text=_entry(commands="[{name: x, policy: admins}]"), file="p.yaml")
    assert manifest_notices(manifest) == ()


def test_defaults_make_a_minimal_entry_usable() -> None:
    manifest = manifest_parse(text="plugins:\n  - {name: a, version: '1', entrypoint: 'a:A'}", file="p.yaml")
    entry = manifest.plugins[0]
    assert (entry.enabled, entry.default_policy, entry.isolation, entry.default_handler) == (
        True,
        "everyone",
        "host",
        False,
    )


@pytest.mark.parametrize(("line", "network"), [("", False), (", network: true", True), (", network: false", False)])
def test_a_plugin_has_no_network_unless_its_entry_asks_for_it(line: str, network: bool) -> None:
    text = "plugins:\n  - {name: a, version: '1', entrypoint: 'a:A'" + line + "}"
    assert manifest_parse(text=text, file="p.yaml").plugins[0].network is network


def test_an_empty_file_has_no_plugins() -> None:
    assert manifest_parse(text="", file="p.yaml").plugins == ()


def _entry(**fields: str) -> str:
    base = {"name": "a", "version": '"1.0"', "entrypoint": "a:A"}
    base.update(fields)
    body = "\n".join(f"    {k}: {v}" for k, v in base.items() if v != "DROP")
    return "plugins:\n  - " + body.lstrip()


BAD = [
    ("plugins: [", "p.yaml: line 1: not valid YAML"),
    ("- a\n- b", "p.yaml: the top level must be a mapping with one key, plugins"),
    ("plugins: {a: 1}", "p.yaml: plugins: must be a list of plugin entries"),
    ("plugins: [3]", "p.yaml: entry 1: an entry must be a mapping of fields"),
    (_entry(entrypoint="DROP"), "p.yaml: entry 1 (a): entrypoint: this field is required"),
    (_entry(version="one"), "p.yaml: entry 1 (a): version: 'one' is not a PEP 440 version"),
    (_entry(version="v1"), "p.yaml: entry 1 (a): version: 'v1' is not written as PEP 440 normalizes it: write '1'"),
    (_entry(version="1.10"), 'p.yaml: entry 1 (a): version: write the version in quotes, such as "1.1"'),
    (_entry(name="Bad Name"), "p.yaml: entry 1 (Bad Name): name: String should match pattern"),
    (_entry(entrypoint="a.b"), "p.yaml: entry 1 (a): entrypoint: String should match pattern"),
    (_entry(colour="red"), "p.yaml: entry 1 (a): colour: unknown field (check the spelling)"),
    (_entry(default_policy="friends"), "p.yaml: entry 1 (a): default_policy: Input should be 'everyone'"),
    (_entry(isolation="docker"), "p.yaml: entry 1 (a): isolation: Input should be 'host' or 'inline'"),
    (_entry(dependencies="{b: '=>1'}"), "p.yaml: entry 1 (a): dependencies: b: '=>1' is not a version constraint"),
    (_entry(dependencies="{a: '>=1'}"), "p.yaml: entry 1 (a): (entry): a plugin cannot depend on itself"),
    (_entry(requirements="['requests >>= 2']"), "requirements: 'requests >>= 2' is not a PEP 508 requirement"),
    (_entry(limits="{timeout_seconds: 0}"), "limits.timeout_seconds: Input should be greater than 0"),
    (_entry(health_check="{interval_seconds: 60}"), "health_check: give exactly one of command or method"),
    (_entry(commands="[{name: x}, {name: x}]"), "p.yaml: entry 1 (a): (entry): command 'x' is declared twice"),
    (_entry(commands="[{name: x, filters: {conversation_type: room}}]"), "filters.conversation_type: Input should"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_a_bad_file_is_reported_in_one_line_with_file_entry_and_field(text: str, message: str) -> None:
    with pytest.raises(ManifestError) as caught:
        manifest_parse(text=text, file="p.yaml")
    line = str(caught.value)
    assert message in line
    assert "\n" not in line


def test_duplicate_plugin_names_name_both_entries() -> None:
    text = "plugins:\n  - {name: a, version: '1', entrypoint: 'a:A'}\n  - {name: a, version: '2', entrypoint: 'b:B'}"
    with pytest.raises(ManifestError, match=r"p.yaml: entry 2 \(a\): name: duplicate name: entry 1 is also 'a'"):
        manifest_parse(text=text, file="p.yaml")


def test_one_command_name_cannot_belong_to_two_plugins() -> None:
    text = textwrap.dedent(
        """
        plugins:
          - {name: a, version: '1', entrypoint: 'a:A', commands: [{name: go}]}
          - {name: b, version: '1', entrypoint: 'b:B', commands: [{name: go}]}
        """
    )
    with pytest.raises(ManifestError, match=r"entry 2 \(b\): commands\[0\].name: command 'go' is also declared by a"):
        manifest_parse(text=text, file="p.yaml")


def test_only_one_plugin_may_be_the_default_handler() -> None:
    text = textwrap.dedent(
        """
        plugins:
          - {name: a, version: '1', entrypoint: 'a:A', default_handler: true}
          - {name: b, version: '1', entrypoint: 'b:B', default_handler: true}
        """
    )
    with pytest.raises(ManifestError, match=r"entry 2 \(b\): default_handler: only one plugin may be"):
        manifest_parse(text=text, file="p.yaml")


def test_a_yaml_tag_that_would_run_code_is_refused(tmp_path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("plugins: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ManifestError, match="not valid YAML"):
        manifest_load(path=path)


def test_a_missing_file_is_a_manifest_error(tmp_path) -> None:
    with pytest.raises(ManifestError, match=r"missing.yaml: cannot read the file"):
        manifest_load(path=tmp_path / "missing.yaml")


def test_the_shipped_plugins_file_is_valid() -> None:
    from pathlib import Path

    manifest = manifest_load(path=Path(__file__).resolve().parents[2] / "data" / "plugins.yaml")
    names = [e.name for e in manifest.plugins]
    assert {"ping", "echo"} <= set(names)


def test_an_entrys_identity_leaves_out_what_a_later_release_adds_with_a_default() -> None:
    from plugins.manifest import PluginEntry

    class LaterEntry(PluginEntry):
        added_later: int = 0

    fields = {"name": "weather", "version": "1.0", "entrypoint": "weather.main:Weather", "queue": "llm"}
    assert LaterEntry(**fields).identity() == PluginEntry(**fields).identity()
    assert PluginEntry(**fields).identity() == fields
    assert PluginEntry(**{**fields, "queue": ""}).identity() != PluginEntry(**fields).identity()


@pytest.mark.parametrize(
    ("extra", "declared", "problem"),
    [
        ({}, [], None),
        ({"commands": [{"name": "go"}]}, ["go"], None),
        (
            {"commands": [{"name": "gone"}]},
            ["go"],
            ("commands.gone", "the plugin's code declares no command 'gone' (it has: go)"),
        ),
        (
            {"commands": [{"name": "gone"}]},
            [],
            ("commands.gone", "the plugin's code declares no command 'gone' (it has: none)"),
        ),
        ({"health_check": {"command": "go"}}, ["go"], None),
        ({"health_check": {"method": "healthy"}}, [], None),
        (
            {"health_check": {"command": "nope"}},
            ["go"],
            ("health_check.command", "'nope' is not one of the commands its code declares"),
        ),
    ],
)
def test_an_entrys_settings_must_name_commands_its_code_declares(extra, declared, problem) -> None:
    from plugins.manifest import PluginEntry

    entry = PluginEntry(name="weather", version="1.0", entrypoint="weather.main:Weather", **extra)
    assert entry.settings_problem(declared) == problem
