"""Start-up with a bad setting stops with one line naming it; embedded mode needs no secrets."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def _check(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py check`` in a clean environment plus ``env``, with its own data folder."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "PLUGIN_SECRETS_KEY", "DEBUG"}
    }
    base.update({"DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}, **env)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "mongodb://db/bot"}, "DATABASE_URL: scheme 'mongodb' is not supported"),
        ({"DATABASE_URL": "postgres://bot:s3cret@db:99999/bot"}, "DATABASE_URL: not a database URL"),
        ({"REDIS_URL": "redis://127.0.0.1:6379/0"}, "SECRET_KEY: is required when DEBUG is off and REDIS_URL is set"),
        ({"HOST_IP": "my-laptop"}, "HOST_IP: 'my-laptop' is not an IP address"),
        ({"SESSIONBOT_CONFIG": "/nonexistent/config.yaml"}, "SESSIONBOT_CONFIG: /nonexistent/config.yaml does not"),
        ({"ADMIN_PATH": "metrics/"}, "ADMIN_PATH: 'metrics/' would hide /metrics"),
        ({"TRUSTED_PROXIES": "*"}, "TRUSTED_PROXIES: '*' is not an IP address or network"),
        ({"CSRF_TRUSTED_ORIGINS": "bot.example.org"}, "CSRF_TRUSTED_ORIGINS: 'bot.example.org' is not an origin"),
        ({"HTTPS_ONLY": "sometimes"}, "HTTPS_ONLY: 'sometimes' is not a boolean"),
        ({"HTTP_HEADER_TIMEOUT": "0"}, "HTTP_HEADER_TIMEOUT: '0' is below the minimum 0.1"),
        ({"PLUGIN_SECRETS_KEY": "s3cret"}, "PLUGIN_SECRETS_KEY: a key is 6 characters; use at least 32"),
    ],
)
def test_a_bad_setting_stops_start_up_with_one_line(tmp_path, env, message) -> None:
    result = _check(tmp_path, **env)
    assert result.returncode == 2
    line = _one_line(result)
    assert line.startswith(f"sessionbot: configuration error: {message}")
    assert "s3cret" not in line


def test_a_bad_key_in_config_yaml_is_named(tmp_path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("command_prefix: '/'\nrate_limit: {messages: 0}\n")
    result = _check(tmp_path, SESSIONBOT_CONFIG=str(config))
    assert result.returncode == 2
    assert "rate_limit.messages" in _one_line(result)


def test_a_sqlite_file_in_a_missing_folder_is_refused_and_no_folder_made(tmp_path) -> None:
    missing = tmp_path / "no" / "such" / "folder"
    result = _check(tmp_path, DATABASE_URL=f"sqlite:///{missing}/bot.sqlite3")
    assert result.returncode == 2
    assert _one_line(result) == (
        f"sessionbot: configuration error: DATABASE_URL: the folder {missing} of the SQLite file does not exist;"
        " create it first"
    )
    assert not (tmp_path / "no").exists()


def test_the_default_data_folder_is_still_made(tmp_path) -> None:
    result = _check(tmp_path, DATA_DIR=str(tmp_path / "new" / "data"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "new" / "data" / "secret_key").is_file()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("languages: [en, xx]\n", "languages: 'xx' is not a language code (such as en, es, zh-hans)"),
        ("languages: [en, zh_Hans]\n", "languages: write 'zh_Hans' as 'zh-hans'"),
        ("default_language: fr\n", "default_language: 'fr' is not one of languages (en, es, zh-hans)"),
        ("default_handler: Echo Bot\n", "default_handler: 'Echo Bot' is not a plugin name"),
    ],
)
def test_a_bad_value_in_config_yaml_names_the_file_and_the_field(tmp_path, text, message) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(text)
    result = _check(tmp_path, SESSIONBOT_CONFIG=str(config))
    assert result.returncode == 2
    assert _one_line(result).startswith(f"sessionbot: configuration error: SESSIONBOT_CONFIG {config}: {message}")


def test_embedded_mode_generates_a_private_secret_key_once(tmp_path) -> None:
    assert _check(tmp_path).returncode == 0
    key_file = tmp_path / "data" / "secret_key"
    first = key_file.read_text()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.strip()) >= 50
    assert _check(tmp_path).returncode == 0
    assert key_file.read_text() == first


def test_scaled_out_mode_starts_with_a_given_secret_key(tmp_path) -> None:
    result = _check(tmp_path, REDIS_URL="redis://127.0.0.1:6379/1", SECRET_KEY="k" * 40)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "data" / "secret_key").exists()


def test_embedded_mode_generates_a_private_plugin_secrets_key_once(tmp_path) -> None:
    assert _check(tmp_path).returncode == 0
    key_file = tmp_path / "data" / "secrets_key"
    first = key_file.read_text()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert _check(tmp_path).returncode == 0
    assert key_file.read_text() == first


def test_scaled_out_mode_without_a_plugin_secrets_key_warns_and_generates_none(tmp_path) -> None:
    result = _check(tmp_path, REDIS_URL="redis://127.0.0.1:6379/1", SECRET_KEY="k" * 40)
    assert result.returncode == 0, result.stderr
    assert "plugins.W002" in result.stderr + result.stdout
    assert "the bots' bridges will not start" in result.stderr + result.stdout
    assert not (tmp_path / "data" / "secrets_key").exists()
    given = _check(tmp_path, REDIS_URL="redis://127.0.0.1:6379/1", SECRET_KEY="k" * 40, PLUGIN_SECRETS_KEY="p" * 40)
    assert "plugins.W002" not in given.stderr + given.stdout
