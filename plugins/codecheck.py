"""Check that plugin code loads, in a plugin host: never in the process that asks.

Importing a plugin's module runs its top-level code. ``importplugins`` and every other
privileged process (the broker, the worker, management commands) hold the database and
the secrets, so they never import a plugin to check it: they start a plugin host for the
pinned code, with the limits, user and sandbox a serving host gets (``host_spec``), read
its ``ready`` answer (with the commands the code declares) or its ``load_error``, and
close it. Several checks start side by side.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from plugins.execution import host_spec
from plugins.sandbox.host import Host, HostLoadError, HostSpec, Limits
from plugins.sandbox.snapshot import Snapshot

# Starting a host is mostly the interpreter's start-up: a few at a time fill the cores.
PARALLEL = 4


@dataclass(frozen=True, slots=True)
class CodeCheck:
    """Load ``entrypoint`` from the pinned ``code`` as plugin ``plugin`` would run."""

    plugin: str
    entrypoint: str
    limits: Limits
    code: Snapshot
    plugin_id: int | None = None  # None: a plugin not installed yet (the range's last uid)
    network: bool = False
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # its secrets: never logged


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Why the code does not load ('' when it does), and the commands it declares when it does."""

    error: str = ""
    commands: tuple[dict[str, Any], ...] = ()


def _load(spec: HostSpec) -> CheckResult:
    try:
        host = Host(spec)
    except HostLoadError as exc:
        return CheckResult(error=str(exc))
    finally:
        shutil.rmtree(spec.data_dir, ignore_errors=True)
    commands = tuple(host.commands)
    host.close()
    return CheckResult(commands=commands)


def _scratch(plugin: str) -> Path:
    # Its own folder, not the plugin's: a check never touches a serving version's data.
    parent = Path(settings.DATA_DIR) / "plugin-checks"
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{plugin}-", dir=parent))


def _spec(check: CodeCheck) -> HostSpec:
    folder = _scratch(check.plugin)
    try:
        return host_spec(
            plugin=check.plugin,
            plugin_id=check.plugin_id,
            network=check.network,
            entrypoint=check.entrypoint,
            limits=check.limits,
            code=check.code,
            data_dir=folder,
            env=check.env,
        )
    except HostLoadError:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def codes_check(*, checks: Sequence[CodeCheck]) -> list[CheckResult]:
    """How each check's code loaded, in the order given: its error or its commands."""
    # The specs first, here: the first one may set up the host user and hide the secrets.
    specs: list[HostSpec | str] = []
    for check in checks:
        try:
            specs.append(_spec(check))
        except HostLoadError as exc:  # the sandbox cannot be built: no host for this one
            specs.append(str(exc))

    if len(specs) < 2:
        return [_outcome(spec) for spec in specs]
    with ThreadPoolExecutor(max_workers=min(len(specs), PARALLEL), thread_name_prefix="plugin-check") as pool:
        return list(pool.map(_outcome, specs))


def _outcome(spec: HostSpec | str) -> CheckResult:
    return CheckResult(error=spec) if isinstance(spec, str) else _load(spec)
