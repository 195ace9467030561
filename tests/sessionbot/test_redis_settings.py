"""Redis settings: a start-up warning for a Redis without a password, and the TLS CA file."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sessionbot.envcheck import EnvError, redis_password_warning, redis_tls_ca_check
from tests.conftest import ROOT

KEY = "k" * 40


@pytest.mark.parametrize(
    ("url", "debug", "warned"),
    [
        ("redis://redis:6379/0", False, True),
        ("redis://user:@redis:6379/0", False, True),
        ("rediss://redis:6380/0", False, True),
        ("unix:///run/redis.sock", False, True),
        ("redis://redis:6379/0", True, False),
        ("redis://:s3cret@redis:6379/0", False, False),
        ("redis://bot:s3cret@redis:6379/0", False, False),
        ("rediss://:s3cret@redis:6380/0", False, False),
        ("unix:///run/redis.sock?password=s3cret", False, False),
        ("", False, False),
    ],
)
def test_a_redis_url_without_a_password_is_warned_about_with_debug_off(url, debug, warned) -> None:
    warning = redis_password_warning(url, debug=debug)
    assert (warning is not None) is warned
    if warning is not None:
        assert warning.startswith("REDIS_URL: gives no password")
        assert "docs/redis.md" in warning


def test_the_tls_ca_file_must_exist_and_go_with_a_tls_url(tmp_path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    assert redis_tls_ca_check("", redis_url="redis://redis:6379/0") == ""
    assert redis_tls_ca_check(str(ca), redis_url="rediss://:p@redis:6380/0") == str(ca)
    with pytest.raises(EnvError, match="REDIS_TLS_CA_FILE: is set but REDIS_URL is not a rediss://"):
        redis_tls_ca_check(str(ca), redis_url="redis://:p@redis:6379/0")
    with pytest.raises(EnvError, match=r"REDIS_TLS_CA_FILE: .*missing\.pem is not a file"):
        redis_tls_ca_check(str(tmp_path / "missing.pem"), redis_url="rediss://:p@redis:6380/0")


def _check(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}}
    base.update({"DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT), "SECRET_KEY": KEY}, **env)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_start_up_warns_about_a_redis_without_a_password(tmp_path) -> None:
    result = _check(tmp_path, REDIS_URL="redis://127.0.0.1:6379/14")
    assert result.returncode == 0, result.stderr
    assert "(sessionbot.W001) REDIS_URL: gives no password" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("env", [{"REDIS_URL": "redis://:s3cret@127.0.0.1:6379/14"}, {}])
def test_start_up_is_quiet_with_a_password_or_without_redis(tmp_path, env) -> None:
    result = _check(tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert "sessionbot.W001" not in result.stderr + result.stdout
    assert "s3cret" not in result.stderr + result.stdout
