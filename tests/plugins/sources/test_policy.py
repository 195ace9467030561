"""source_refusal: the plugin_sources rule that refuses a source, or None.

Table tests of the pure check, and of plugin_sources as config.yaml states it.
"""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from plugins.sources.policy import SourcePolicy, policy_from_config, rule_allows, source_refusal
from plugins.sources.spec import Source
from sessionbot.botconfig import ConfigError, PluginSources, config_load, source_rule_parse

DEFAULT = SourcePolicy()
GIT = ("https", "ssh", "http", "git")


def git(location: str) -> Source:
    return Source("git", location)


@pytest.mark.parametrize(
    ("source", "policy", "refusal"),
    [
        # The default: local code, uploads, PyPI, https git hosts and https archives.
        (Source("folder", "/srv/plain"), DEFAULT, None),
        (git("/srv/repo"), DEFAULT, None),
        (git("file:///srv/repo"), DEFAULT, None),
        (Source("archive", "/srv/e-1.whl"), DEFAULT, None),
        (Source("archive", "/tmp/up/e-1.whl", upload=True), DEFAULT, None),
        (Source("index", "echo==1"), DEFAULT, None),
        (Source("index", "echo==1", index="https://pypi.org/simple/"), DEFAULT, None),
        (git("https://github.com/o/r"), DEFAULT, None),
        (git("https://gitlab.example:8443/o/r"), DEFAULT, None),
        (Source("archive", "https://files.example/e-1.tar.gz"), DEFAULT, None),
        (
            git("ssh://git@gitlab.example/team/bot"),
            DEFAULT,
            "plugin_sources.git does not list ssh://gitlab.example/team/bot (it allows: https://)",
        ),
        (
            git("git@gitlab.example:team/bot.git"),
            DEFAULT,
            "plugin_sources.git does not list ssh://gitlab.example/team/bot.git (it allows: https://)",
        ),
        (
            git("http://git.lan/o/r"),
            DEFAULT,
            "plugin_sources.git does not list http://git.lan/o/r (it allows: https://)",
        ),
        (git("git://git.lan/o/r"), DEFAULT, "plugin_sources.git does not list git://git.lan/o/r (it allows: https://)"),
        (
            Source("archive", "http://files.example/e.whl"),
            DEFAULT,
            "plugin_sources.archives does not list http://files.example/e.whl (it allows: https://)",
        ),
        (
            Source("index", "echo==1", index="https://pypi.lan/simple"),
            DEFAULT,
            "plugin_sources.indexes does not list https://pypi.lan/simple (it allows: https://pypi.org/simple)",
        ),
        # Operators' choices.
        (
            Source("folder", "/srv/plain"),
            SourcePolicy(local=False),
            "plugin_sources.local is false: folders, repositories and archives on this machine are refused",
        ),
        (
            git("file:///srv/repo"),
            SourcePolicy(local=False),
            "plugin_sources.local is false: folders, repositories and archives on this machine are refused",
        ),
        (
            git("/srv/repo"),
            SourcePolicy(local=False),
            "plugin_sources.local is false: folders, repositories and archives on this machine are refused",
        ),
        (
            Source("archive", "/srv/e.whl"),
            SourcePolicy(local=False),
            "plugin_sources.local is false: folders, repositories and archives on this machine are refused",
        ),
        (
            Source("archive", "/tmp/up/e.whl", upload=True),
            SourcePolicy(uploads=False),
            "plugin_sources.uploads is false: uploaded archives are refused",
        ),
        (Source("archive", "/tmp/up/e.whl", upload=True), SourcePolicy(local=False), None),
        (
            git("https://github.com/o/r"),
            SourcePolicy(git=()),
            "plugin_sources.git does not list https://github.com/o/r (it allows nothing)",
        ),
        (
            Source("index", "echo==1"),
            SourcePolicy(indexes=()),
            "plugin_sources.indexes does not list https://pypi.org/simple (it allows nothing)",
        ),
        (
            Source("index", "echo==1", index="https://pypi.lan/simple"),
            SourcePolicy(indexes=("https://pypi.lan",)),
            None,
        ),
        (
            Source("index", "echo==1"),
            SourcePolicy(indexes=("https://pypi.lan",), default_index="https://pypi.lan/simple"),
            None,
        ),
        (
            Source("index", "echo==1"),
            SourcePolicy(indexes=("https://pypi.lan",), default_index="https://pypi.org/simple"),
            "plugin_sources.indexes does not list https://pypi.org/simple (it allows: https://pypi.lan)",
        ),
        (Source("index", "echo==1"), SourcePolicy(indexes=(), default_index=""), None),
        (git("https://github.com/myorg/bot"), SourcePolicy(git=("https://github.com/myorg",)), None),
        (git("https://github.com/myorg/bot"), SourcePolicy(git=("https://github.com/myorg/",)), None),
        (git("https://GitHub.com/myorg/bot"), SourcePolicy(git=("https://github.com/myorg",)), None),
        (git("https://github.com/myorg.git"), SourcePolicy(git=("https://github.com/myorg",)), None),
        (
            git("https://github.com/myorgevil/bot"),
            SourcePolicy(git=("https://github.com/myorg",)),
            "plugin_sources.git does not list https://github.com/myorgevil/bot (it allows: https://github.com/myorg)",
        ),
        (
            git("https://github.com/other/bot"),
            SourcePolicy(git=("https://github.com/myorg",)),
            "plugin_sources.git does not list https://github.com/other/bot (it allows: https://github.com/myorg)",
        ),
        (
            git("https://github.com.evil/myorg/bot"),
            SourcePolicy(git=("https://github.com/myorg",)),
            "plugin_sources.git does not list https://github.com.evil/myorg/bot (it allows: https://github.com/myorg)",
        ),
        (
            git("https://github.com:444/myorg/bot"),
            SourcePolicy(git=("https://github.com/myorg",)),
            "plugin_sources.git does not list https://github.com:444/myorg/bot (it allows: https://github.com/myorg)",
        ),
        (
            git("ssh://git@github.com/myorg/bot"),
            SourcePolicy(git=("https://github.com/myorg",)),
            "plugin_sources.git does not list ssh://github.com/myorg/bot (it allows: https://github.com/myorg)",
        ),
        (git("https://gitlab.example/o/r"), SourcePolicy(git=("gitlab.example",)), None),
        (git("https://gitlab.example:8443/o/r"), SourcePolicy(git=("gitlab.example:8443",)), None),
        (
            git("https://gitlab.example:8443/o/r"),
            SourcePolicy(git=("gitlab.example",)),
            "plugin_sources.git does not list https://gitlab.example:8443/o/r (it allows: gitlab.example)",
        ),
        (
            git("ssh://git@gitlab.example/o/r"),
            SourcePolicy(git=("gitlab.example",)),
            "plugin_sources.git does not list ssh://gitlab.example/o/r (it allows: gitlab.example)",
        ),
        (git("git@gitlab.example:team/bot"), SourcePolicy(git=("git@gitlab.example:",)), None),
        (git("ssh://git@gitlab.example/team/bot"), SourcePolicy(git=("git@gitlab.example:team",)), None),
        (git("git@gitlab.example:team/bot"), SourcePolicy(git=("ssh://gitlab.example/team/",)), None),
        (
            git("git@gitlab.example:other/bot"),
            SourcePolicy(git=("ssh://gitlab.example/team/",)),
            "plugin_sources.git does not list ssh://gitlab.example/other/bot (it allows: ssh://gitlab.example/team/)",
        ),
        (git("ssh://git@gitlab.example/team/bot"), SourcePolicy(git=("ssh://",)), None),
        (git("http://git.lan/o/r"), SourcePolicy(git=("http://git.lan",)), None),
        (
            git("https://github.com/o/r"),
            SourcePolicy(git=("http://",)),
            "plugin_sources.git does not list https://github.com/o/r (it allows: http://)",
        ),
        (git("https://h.example/o/r"), SourcePolicy(git=("https://a.example", "https://h.example")), None),
        (
            git("https://c.example/o/r"),
            SourcePolicy(git=("https://a.example", "b.example")),
            "plugin_sources.git does not list https://c.example/o/r (it allows: https://a.example, b.example)",
        ),
        (Source("archive", "https://files.example/a/e.whl"), SourcePolicy(archives=("https://files.example/a",)), None),
        (
            Source("archive", "https://files.example/b/e.whl"),
            SourcePolicy(archives=("https://files.example/a",)),
            "plugin_sources.archives does not list https://files.example/b/e.whl (it allows: https://files.example/a)",
        ),
    ],
)
def test_it_names_the_rule_that_refuses_a_source(source, policy, refusal) -> None:
    found = source_refusal(source, policy)
    assert (None if found is None else str(found)) == refusal


@pytest.mark.parametrize(
    ("rule", "location", "allowed"),
    [
        (("https", "github.com", "/myorg"), "https://github.com/myorg/bot", True),
        (("https", "github.com", "/myorg"), "https://github.com/myorg", True),
        (("https", "github.com", "/myorg"), "https://github.com/myorg/", True),
        (("https", "github.com", "/myorg"), "https://github.com/myorg.git/", True),
        (("https", "github.com", "/myorg"), "https://github.com/myorg.gitx", False),
        (("https", "github.com", "/myorg"), "https://github.com/myorg/../evil", False),
        (("https", "github.com", "/myorg"), "https://github.com/myorg/%2E%2E/evil", False),
        (("https", "github.com", "/myorg"), "https://github.com/myorg/./bot", False),
        (("https", "github.com", "/myorg"), "https://github.com/myorgs/bot", False),
        (("https", "github.com", "/myorg"), "https://github.com/my/bot", False),
        (("https", "github.com", ""), "https://evil.example/x?github.com", False),
        (("https", "github.com", ""), "https://github.com@evil.example/x", False),
        (("https", "", ""), "https://anything.example/x", True),
        (("https", "", ""), "http://anything.example/x", False),
        (("ssh", "h.example", ""), "git@h.example:o/r", True),
        (("ssh", "h.example", "/o"), "git@h.example:o/r", True),
        (("ssh", "h.example", "/o"), "git@h.example:other/r", False),
    ],
)
def test_a_rule_matches_scheme_host_and_whole_path_segments(rule, location, allowed) -> None:
    assert rule_allows(rule, location) is allowed


@pytest.mark.parametrize(
    ("entry", "parsed"),
    [
        ("https://", ("https", "", "")),
        ("https://github.com", ("https", "github.com", "")),
        ("https://GitHub.com/myorg/", ("https", "github.com", "/myorg")),
        ("gitlab.example", ("https", "gitlab.example", "")),
        ("gitlab.example:8443", ("https", "gitlab.example:8443", "")),
        ("git@gitlab.example:", ("ssh", "gitlab.example", "")),
        ("git@gitlab.example:team/", ("ssh", "gitlab.example", "/team")),
        ("ssh://gitlab.example/team", ("ssh", "gitlab.example", "/team")),
    ],
)
def test_an_entry_is_read_as_scheme_host_and_path(entry, parsed) -> None:
    assert source_rule_parse(entry, schemes=GIT) == parsed


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("ftp://x", "'ftp://x': the scheme must be one of https, ssh, http, git"),
        ("https://u@github.com", "leave the user out of an allowed URL"),
        ("https:///path", "a path needs a host before it"),
        ("https://bad_host", "'bad_host' is not a host name"),
        ("not a host", "is not a URL prefix (https://host/path) or a host name"),
        ("", "is not a URL prefix"),
    ],
)
def test_an_entry_that_is_no_rule_is_refused(entry, reason) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        source_rule_parse(entry, schemes=GIT)


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("plugin_sources: {hosts: []}", "plugin_sources.hosts", "Extra inputs are not permitted"),
        ("plugin_sources: {git: ['ftp://x']}", "plugin_sources.git", "'ftp://x': the scheme must be one of"),
        ("plugin_sources: {archives: ['ssh://x']}", "plugin_sources.archives", "'ssh://x': the scheme must be one of"),
        ("plugin_sources: {indexes: [pypi.org]}", "plugin_sources.indexes", "'pypi.org' is not an index URL"),
        ("plugin_sources: {local: maybe}", "plugin_sources.local", "Input should be a valid boolean"),
        ("plugin_sources: {uploads: maybe}", "plugin_sources.uploads", "Input should be a valid boolean"),
    ],
)
def test_config_yaml_refuses_a_bad_plugin_sources_key_in_one_line(tmp_path, text, field, reason) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        config_load(path=path)
    assert str(caught.value).startswith(f"{path}: {field}: {reason}")
    assert "\n" not in str(caught.value)


def test_config_yaml_states_the_policy(tmp_path) -> None:
    path = tmp_path / "config.yaml"
    text = (
        "plugin_sources:\n  git: [gitlab.example, 'git@gitlab.example:']\n"
        "  archives: ['https://files.example']\n  indexes: []\n  local: false\n  uploads: false\n"
    )
    path.write_text(text, encoding="utf-8")
    policy = policy_from_config(config_load(path=path).plugin_sources)
    assert policy == SourcePolicy(
        git=("gitlab.example", "git@gitlab.example:"),
        archives=("https://files.example",),
        indexes=(),
        local=False,
        uploads=False,
    )
    assert source_refusal(git("git@gitlab.example:o/r"), policy) is None
    assert source_refusal(git("https://github.com/o/r"), policy) is not None


def test_the_default_policy_is_the_config_default() -> None:
    assert policy_from_config(PluginSources()) == SourcePolicy()
    with pytest.raises(ValidationError):
        PluginSources(git=("ftp://x",))
