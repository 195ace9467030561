"""The recommended production settings, read from docs/deployment.md so doc and checks agree.

``python -m tests.sessionbot.deploy_env`` prints them as ``NAME=value`` lines (for
``.ci/run``); the test suite imports :func:`production_env`.
"""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"
_BLOCK = re.compile(r"<!-- deploy-env:[^>]*-->\s*```sh\n(.*?)```", re.S)


def production_env(doc: Path = DOC) -> dict[str, str]:
    match = _BLOCK.search(doc.read_text())
    assert match, f"{doc}: no deploy-env block"
    env = {}
    for line in match.group(1).splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value
    return env


if __name__ == "__main__":
    for name, value in production_env().items():
        print(f"{name}={value}")
