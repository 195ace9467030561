"""Whether plugin hosts get cgroups: a reason when they cannot, so hosts start without."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from plugins.sandbox.cgroups import cgroups_available
from tests.conftest import ROOT, services_required

PROBE = (
    "import sys; from pathlib import Path; from plugins.sandbox.cgroups import cgroups_available; "
    "print(repr(cgroups_available(Path(sys.argv[1]))))"
)


def cgroups_in_private_mount(root: Path, *, mode: str) -> str:
    """cgroups_available on a v2-looking tree mounted ``mode`` (ro or rw) in a mount namespace
    of its own, as a container sees its cgroups."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        message = "needs root and unshare (apt-get install util-linux) to mount a read-only tree"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    script = (
        f'mount -t tmpfs none "$1" && echo "cpu io memory pids" > "$1/cgroup.controllers" '
        f'&& mount -o remount,{mode} "$1" && exec "$2" -c "$3" "$1"'
    )
    argv = ["unshare", "--mount", "sh", "-c", script, "sh", str(root), sys.executable, PROBE]
    result = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    return str(ast.literal_eval(result.stdout))


def test_read_only_cgroups_as_in_a_container_are_not_available(tmp_path: Path) -> None:
    problem = cgroups_in_private_mount(tmp_path, mode="ro")
    assert problem == f"{tmp_path} cannot be written (a container's read-only cgroups)"


def test_writable_cgroups_with_the_controllers_are_available(tmp_path: Path) -> None:
    assert cgroups_in_private_mount(tmp_path, mode="rw") == ""


@pytest.mark.parametrize(
    ("controllers", "problem"),
    [
        ("cpu memory", "cgroup v2 lacks the pids controller"),
        ("io", "cgroup v2 lacks the cpu, memory, pids controller"),
        ("cpu memory pids", ""),
    ],
)
def test_cgroup_v2_needs_memory_pids_and_cpu(tmp_path: Path, controllers: str, problem: str) -> None:
    (tmp_path / "cgroup.controllers").write_text(controllers)
    assert cgroups_available(tmp_path) == problem
