"""Which version row an install writes: none (unchanged), a new one, or a failed one again.

Pure module (no Django). A plugin's own manifest names its version, but a moved branch or
an edited folder brings new code under the same number: that is a new version all the
same, labelled ``<version>+<commit or code digest>`` (a PEP 440 local version), so the one
serving keeps its row, its code and its place in the rollback history.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from plugins.constraints import version_equal

TAG_LENGTH = 12
_HEX = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True, slots=True)
class Installed:
    """One version of the plugin as installed: what it was built from and how it stands."""

    version: str
    resolved: str  # the commit, archive digest or code digest it came from
    code: str  # the digest of its pinned code
    checksum: str  # of its entry and code
    failed: bool  # its build or check failed: it never served


@dataclass(frozen=True, slots=True)
class Plan:
    action: Literal["unchanged", "create", "replace"]
    version: str  # the label the version is written under (or the unchanged one's)


def version_tag(*, resolved: str, code: str) -> str:
    """The local-version label of new code: the commit (or digest) it resolved to, shortened."""
    text = resolved.lower() if _HEX.match(resolved.lower()) else code.lower()
    return text[:TAG_LENGTH]


def install_plan(*, wanted: str, resolved: str, code: str, checksum: str, installed: Sequence[Installed]) -> Plan:
    """Decide the row for code that resolved to ``resolved`` and declares version ``wanted``.

    - the same code and entry, built before: unchanged;
    - the number not installed yet, or installed only by a failed build: that number;
    - the number taken by other code: ``wanted+tag`` (a failed or stale row under that
      label is written again).
    """
    for row in installed:
        if not row.failed and row.resolved == resolved and row.code == code and row.checksum == checksum:
            return Plan("unchanged", row.version)
    same = next((row for row in installed if version_equal(row.version, wanted)), None)
    if same is None:
        return Plan("create", wanted)
    if same.failed:
        return Plan("replace", same.version)
    base = wanted.split("+", 1)[0]
    label = f"{base}+{version_tag(resolved=resolved, code=code)}"
    tagged = next((row for row in installed if row.version == label), None)
    return Plan("create", label) if tagged is None else Plan("replace", label)


class InstallError(Exception):
    """An install failed at ``step``; ``str()`` is ``step: message`` for the operator.

    ``version``: the version row recorded as failed, when the plugin's name was known.
    """

    def __init__(self, step: str, message: str, *, version: Any = None) -> None:
        self.step, self.message, self.version = step, message, version
        super().__init__(f"{step}: {message}")
