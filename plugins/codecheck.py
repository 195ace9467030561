"""Check that plugin code loads, in a plugin host: never in the process that asks.

Importing a plugin's module runs its top-level code. ``importplugins`` and every other
privileged process (the broker, the worker, management commands) hold the database and
the secrets, so they never import a plugin to check it: they start a plugin host for the
pinned code, with the limits, user and sandbox a serving host gets (``host_spec``), read
its ``ready`` or ``load_error`` answer and close it. Several checks start side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

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


def _load(spec: HostSpec) -> str:
    try:
        host = Host(spec)
    except HostLoadError as exc:
        return str(exc)
    host.close()
    return ""


def codes_check(*, checks: Sequence[CodeCheck]) -> list[str]:
    """Why each check's code does not load ('' when it does), in the order given."""
    # The specs first, here: the first one may set up the host user and hide the secrets.
    specs = [host_spec(plugin=c.plugin, entrypoint=c.entrypoint, limits=c.limits, code=c.code) for c in checks]
    if len(specs) < 2:
        return [_load(spec) for spec in specs]
    with ThreadPoolExecutor(max_workers=min(len(specs), PARALLEL), thread_name_prefix="plugin-check") as pool:
        return list(pool.map(_load, specs))
