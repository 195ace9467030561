"""The names and values of a plugin's variables, the two shapes of ``env:``, and how they
reach its host's environment (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.envnames import env_entries, env_name_problem, env_value_problem
from plugins.sandbox.host import host_environment


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "_x", "llm_url", "A1"])
def test_variable_names_are_accepted(name) -> None:
    assert env_name_problem(name) == ""


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "is not a variable name"),
        ("1KEY", "is not a variable name"),
        ("API-KEY", "is not a variable name"),
        ("A=B", "is not a variable name"),
        ("K" * 129, "is not a variable name"),
        ("PATH", "is set by the platform"),
        ("home", "is set by the platform"),
        ("PYTHONPATH", "is set by the platform"),
        ("PYTHONSTARTUP", "is set by the platform"),
        ("LD_PRELOAD", "is set by the platform"),
        ("TMPDIR", "is set by the platform"),
    ],
)
def test_names_that_are_no_variable_or_steer_the_host_are_refused(name, reason) -> None:
    assert reason in env_name_problem(name)


def test_values_that_no_variable_can_hold_are_refused_without_quoting_them() -> None:
    assert "NUL" in env_value_problem("sk-\x00abc")
    assert "sk-" not in env_value_problem("sk-\x00abc")
    assert "longer" in env_value_problem("x" * 70_000)
    assert env_value_problem("sk-abc") == ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, {}),
        ({}, {}),
        ({"OPENAI_API_KEY": "sk-1", "PORT": 8080}, {"OPENAI_API_KEY": "sk-1", "PORT": "8080"}),
        # The older bot's shape: a list of one-name maps; a later one wins.
        (
            [{"OPENAI_API_KEY": "sk-1"}, {"URL": "http://llm:8000"}],
            {"OPENAI_API_KEY": "sk-1", "URL": "http://llm:8000"},
        ),
        ([{"A": "1"}, {"A": "2"}], {"A": "2"}),
        ({"DEBUG": True, "QUIET": False, "RATE": 0.5}, {"DEBUG": "true", "QUIET": "false", "RATE": "0.5"}),
    ],
)
def test_both_shapes_of_env_are_read(raw, expected) -> None:
    assert env_entries(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("KEY=value", "must be a mapping"),
        ([{"A": "1", "B": "2"}], "one name"),
        (["A=1"], "one name"),
        ({"A": ["x"]}, "A: the value must be text or a number"),
        ({"A": None}, "A: the value must be text or a number"),
        ({"LD_PRELOAD": "/x.so"}, "set by the platform"),
    ],
)
def test_a_bad_env_says_why_without_the_value(raw, reason) -> None:
    with pytest.raises(ValueError, match=reason) as caught:
        env_entries(raw)
    assert "/x.so" not in str(caught.value)


def test_a_plugins_own_variables_reach_its_host_even_with_secret_looking_names() -> None:
    worker = {"PATH": "/usr/bin", "OPENAI_API_KEY": "the-workers", "SECRET_KEY": "s"}
    own = (("OPENAI_API_KEY", "the-plugins"), ("SERVICE_TOKEN", "t"))
    env = host_environment(worker, data_dir=Path("/data/plugin-data/x"), own=own)
    assert (env["OPENAI_API_KEY"], env["SERVICE_TOKEN"]) == ("the-plugins", "t")
    assert "SECRET_KEY" not in env
    assert "OPENAI_API_KEY" not in host_environment(worker, data_dir=Path("/data/plugin-data/x"))


def test_a_plugins_own_variables_never_replace_the_platforms() -> None:
    own = (("HOME", "/root"), ("PYTHONPATH", "/evil"), ("LD_PRELOAD", "/evil.so"), ("PATH", "/evil"))
    env = host_environment({"PATH": "/usr/bin"}, data_dir=Path("/data/plugin-data/x"), own=own)
    assert (env["HOME"], env["PATH"]) == ("/data/plugin-data/x", "/usr/bin")
    assert env["PYTHONPATH"] != "/evil"
    assert "LD_PRELOAD" not in env
