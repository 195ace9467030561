"""The documented production settings pass ``check --deploy``; HTTPS_ONLY behaves behind a proxy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, services_required
from tests.sessionbot.deploy_env import DOC, production_env

pytestmark = pytest.mark.slow
_OURS = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}


def _check_deploy(tmp_path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in _OURS}
    base.update({"DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}, **env)
    argv = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    return subprocess.run(argv, cwd=ROOT, env=base, capture_output=True, text=True, timeout=120)


def test_the_documented_production_settings_pass_check_deploy_without_a_warning(tmp_path) -> None:
    if os.geteuid() == 0 and not shutil.which("bwrap"):
        # A root machine without bubblewrap is rightly warned that plugins will be refused.
        message = "bubblewrap is not installed (apt-get install bubblewrap); set it up or unset REQUIRE_SERVICES"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    env = production_env()
    assert env["HTTPS_ONLY"] == "true"
    result = _check_deploy(tmp_path, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_https_only_alone_leaves_only_the_hsts_choices_to_make(tmp_path) -> None:
    result = _check_deploy(tmp_path, {"HTTPS_ONLY": "true"})
    warnings = {w for w in ("W004", "W005", "W008", "W012", "W016", "W021") if f"security.{w}" in result.stderr}
    assert warnings == {"W005", "W021"}  # subdomains and preload: the operator's call, off by default


def test_without_https_only_check_deploy_names_what_is_off(tmp_path) -> None:
    result = _check_deploy(tmp_path, {})
    assert result.returncode == 1
    for warning in ("W004", "W008", "W012", "W016"):
        assert f"security.{warning}" in result.stderr


@pytest.mark.parametrize("language", ["es", "zh-hans"])
def test_the_translated_guides_show_the_same_settings(language) -> None:
    assert production_env(DOC.parent / language / "deployment.md") == production_env()
