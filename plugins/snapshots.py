"""Which pinned code each plugin version runs: its last good snapshot.

A snapshot (``plugins.sandbox.snapshot``) is recorded on a version, under the key
``code_snapshot`` of its manifest JSON, once the code loaded: at ``importplugins``, at a
successful reload, or, for a version that has none yet (added in the admin), at its first
successful load. Every host and inline import starts from the recorded snapshot, so a
failed reload, a crashed host or a new worker process all keep running the last good code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from plugins.archives import archives_clean
from plugins.environments.store import environments_clean
from plugins.models import PluginApi, PluginVersion, SourceKind
from plugins.sandbox.runtime import plugin_runtime, runtimes_prune
from plugins.sandbox.snapshot import (
    Snapshot,
    SnapshotError,
    snapshot_find,
    snapshot_retire,
    snapshot_take,
    snapshots_prune,
)

SNAPSHOT_KEY = "code_snapshot"


@dataclass(frozen=True, slots=True)
class PinnedCode:
    snapshot: Snapshot
    recorded: bool  # False: a first snapshot of the live code, recorded once it loads


def code_store() -> Path:
    return Path(settings.DATA_DIR) / "plugin-code"


def version_digest(*, version: PluginVersion) -> str:
    manifest = version.manifest if isinstance(version.manifest, dict) else {}
    return str(manifest.get(SNAPSHOT_KEY) or "")


def live_snapshot(*, plugin: str, entrypoint: str) -> Snapshot:
    """Pin the code now in the plugin roots (raises SnapshotError)."""
    return snapshot_take(plugin=plugin, entrypoint=entrypoint, roots=list(settings.PLUGIN_ROOTS), store=code_store())


def version_code(*, version: PluginVersion) -> PinnedCode:
    """The version's last good code; SnapshotError if this machine does not have it."""
    name, digest = version.plugin.name, version_digest(version=version)
    if not digest:
        return PinnedCode(live_snapshot(plugin=name, entrypoint=version.entrypoint), recorded=False)
    found = snapshot_find(store=code_store(), plugin=name, digest=digest)
    if found is not None:
        return PinnedCode(found, recorded=True)
    if version.api == PluginApi.LEGACY:
        raise SnapshotError(
            f"this machine does not have the pinned tree of {version} ({digest[:12]}), an older bot's plugin: "
            "import its plugins.yaml on this machine too"
        )
    # Another machine recorded it (or the folder was removed): the live code may be the same.
    live = live_snapshot(plugin=name, entrypoint=version.entrypoint)
    if live.digest != digest:
        raise SnapshotError(
            f"this machine does not have the last good code of {version} ({digest[:12]}) and its plugin "
            f"roots hold different code ({live.digest[:12]}): deploy the same code, or reload the plugin"
        )
    return PinnedCode(live, recorded=True)


def version_code_record(*, version: PluginVersion, digest: str, only_if_unset: bool = False) -> bool:
    """Make ``digest`` the version's last good code; True if it changed."""
    with transaction.atomic():
        row = PluginVersion.objects.select_for_update().get(pk=version.pk)
        manifest = dict(row.manifest) if isinstance(row.manifest, dict) else {}
        old = str(manifest.get(SNAPSHOT_KEY) or "")
        if old == digest or (only_if_unset and old):
            return False
        manifest[SNAPSHOT_KEY] = digest
        PluginVersion.objects.filter(pk=version.pk).update(manifest=manifest)
    version.manifest = manifest
    if old:
        snapshot_retire(store=code_store(), plugin=version.plugin.name, digest=old)
    transaction.on_commit(snapshots_clean)
    return True


def snapshots_clean(*, grace_seconds: float | None = None) -> list[Path]:
    """Remove the snapshots, environments and kept archives no version refers to, once no
    invocation (or install) can still be using them.

    The grace period defaults to the Celery task time limit: the longest an invocation
    that started on the old code can still run.
    """
    keep = set()
    for name, manifest in PluginVersion.objects.values_list("plugin__name", "manifest"):
        if isinstance(manifest, dict) and manifest.get(SNAPSHOT_KEY):
            keep.add((name, str(manifest[SNAPSHOT_KEY])))
    grace = float(settings.CELERY_TASK_TIME_LIMIT) if grace_seconds is None else grace_seconds
    runtimes_clean()
    removed = snapshots_prune(store=code_store(), keep=keep, grace_seconds=grace)
    # The environments (plugins.environments) follow the same rule.
    environments = set(PluginVersion.objects.exclude(environment="").values_list("environment", flat=True))
    archives = PluginVersion.objects.filter(source_kind=SourceKind.ARCHIVE).values_list("resolved", flat=True)
    archives_clean(keep=set(archives), grace_seconds=grace)
    return removed + environments_clean(keep=environments, grace_seconds=grace)


RUNTIME_GRACE = 7 * 24 * 3600.0


def runtimes_clean() -> list[Path]:
    """Remove the plugin runtime folders of older code that no host started from for a
    week (a worker still on that code marks its folder at each host start)."""
    into = Path(settings.DATA_DIR) / "plugin-runtime"
    grace = max(RUNTIME_GRACE, float(settings.CELERY_TASK_TIME_LIMIT))
    return runtimes_prune(into=into, keep=plugin_runtime(into), grace_seconds=grace)
