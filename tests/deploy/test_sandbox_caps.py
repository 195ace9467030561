"""The worker's container privileges are enough for the plugin sandbox, and each one added
is needed: sandbox tests run here under Docker's capabilities plus compose.yaml's cap_add.

What this cannot show: Docker's seccomp and AppArmor profiles (docs/deployment.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, services_required
from tests.deploy.test_files import compose

# Docker's default capabilities of a container (moby's oci/caps/defaults.go).
DOCKER_DEFAULT = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
]
SANDBOX_TESTS = [
    "tests/security/test_sandbox_network.py::test_a_default_plugin_reaches_no_local_service",
    "tests/security/test_sandbox_network.py::test_a_networked_plugin_has_the_network_but_not_this_machines_services",
]


def sandbox_tests_with(caps: list[str], data: Path) -> subprocess.CompletedProcess[str]:
    """The sandbox tests in a root process whose capability bounding set is ``caps``, on
    SQLite in ``data`` (the outer run's test database stays its own)."""
    missing = [name for name in ("setpriv", "bwrap", "nft") if shutil.which(name, path="/usr/bin:/usr/sbin") is None]
    if os.geteuid() != 0 or missing:
        message = f"needs root, util-linux, bubblewrap and nftables (missing: {missing or 'root'})"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    bounding = ",".join(["-all", *(f"+{cap.lower()}" for cap in caps)])
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")} | {"DATA_DIR": str(data)}
    argv = [
        "setpriv",
        f"--bounding-set={bounding}",
        "--",
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    return subprocess.run([*argv, *SANDBOX_TESTS], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_the_sandbox_works_with_the_workers_capabilities(tmp_path: Path) -> None:
    added = compose()["services"]["worker"]["cap_add"]
    result = sandbox_tests_with([*DOCKER_DEFAULT, *added], tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "2 passed" in result.stdout


@pytest.mark.parametrize("dropped", ["SYS_ADMIN", "NET_ADMIN"])
def test_the_sandbox_needs_each_capability_compose_adds(tmp_path: Path, dropped: str) -> None:
    added = [cap for cap in compose()["services"]["worker"]["cap_add"] if cap != dropped]
    result = sandbox_tests_with([*DOCKER_DEFAULT, *added], tmp_path)
    assert result.returncode != 0
    assert "the plugin host did not start" in result.stdout
