"""Processes of an unprivileged user (nobody), started from the root test process: what
the broker of the shipped deployment is (compose.yaml's uid 10001, systemd's sessionbot)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOBODY = 65534


def _hidden_by(path: Path) -> tuple[Path, Path] | None:
    """The first folder on ``path``'s real path that others may not enter (such as /root,
    where pyenv keeps this machine's interpreter), and its child on the way; None if none."""
    real = path.resolve()
    for folder in reversed(real.parents):
        if folder != Path("/") and not folder.stat().st_mode & stat.S_IXOTH:
            return folder, folder / real.relative_to(folder).parts[0]
    return None


# In a mount namespace of its own: an empty folder over the closed one, and only the
# interpreter's tree shown again inside it. Nothing else of the closed folder is visible.
_REVEAL = (
    'set -e; tmp=$(mktemp -d); mount --bind "$1" "$tmp"; mount -t tmpfs -o mode=0755 tmpfs "$2"; '
    'mkdir -p "$1"; mount --move "$tmp" "$1"; shift 2; exec "$@"'
)


def unprivileged_env(home: Path, **extra: str) -> dict[str, str]:
    """A bare environment for a process of user nobody: its own data folder, no servers."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "sessionbot.settings",
        "DATA_DIR": str(home / "data"),
        "LANGUAGE": "en",
        **extra,
    }


def as_nobody(args: list[str], *, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python args`` on this interpreter as user nobody (the real, effective and saved
    uid; no groups)."""
    setpriv = shutil.which("setpriv")
    assert setpriv is not None
    command = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", sys.executable, *args]
    hidden = _hidden_by(Path(sys.executable))
    if hidden is not None:
        unshare = shutil.which("unshare")
        if unshare is None:
            pytest.skip(f"user nobody may not run {sys.executable} and unshare (util-linux) is not installed")
        closed, inner = hidden
        command = [
            unshare,
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            _REVEAL,
            "sh",
            str(inner),
            str(closed),
            *command,
        ]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def nobody_home() -> Iterator[Path]:
    """A folder user nobody owns, outside the root-only temporary folders of pytest."""
    if os.geteuid() != 0:
        pytest.skip("running a process as another user needs root")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    home = Path(tempfile.mkdtemp(prefix="confined-only-", dir="/tmp"))
    os.chmod(home, 0o755)
    os.chown(home, NOBODY, NOBODY)
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)
