"""Install a plugin from a source: the one path of the CLI, the admin and ``importplugins``.

The steps, named in progress lines and in any error: ``source`` (can it be read, does
the operator's ``plugin_sources`` allow it), the fetch (``clone``, ``resolve``,
``download``, ``unpack`` or ``copy``), ``manifest`` (the plugin's own file, with the
operator's entry on top), the environment (``resolve``, ``download``, ``build``),
``check`` (its code loads in a plugin host, on that environment) and ``activate``.
A source without a manifest is read as an older bot's plugin (``source_older``), as
``importplugins`` reads the older bot's plugins.yaml: pinned, built, then checked the same way.
Nothing of the plugin runs in this process: building and loading happen in sandboxed
processes as the build or the plugin's user.

A failure after the plugin's name is known leaves a version row in ``build_state``
``failed`` with the error, never active; the version already serving keeps serving.
Installing code that resolves to what is installed is "unchanged"; new code under a
version number already taken is a new version (``plugins.installplan``).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from plugins.codecheck import CodeCheck, codes_check
from plugins.commands import commands_derive
from plugins.entrypoints import EntrypointError, entrypoint_file, source_checksum
from plugins.execution import limits_or_defaults
from plugins.health import LOADED
from plugins.installplan import Installed, InstallError, Plan, install_plan
from plugins.installsource import (
    Fetched,
    code_roots,
    environment_for,
    older_environment_for,
    source_fetch_any,
    source_manifest,
    source_older,
    source_plugin_file,
)
from plugins.legacyinstall.entries import LegacyPin
from plugins.manifest import PluginEntry
from plugins.models import BuildState, Plugin, PluginCommand, PluginVersion
from plugins.sandbox.snapshot import Snapshot, SnapshotError, snapshot_take
from plugins.secrets import plugin_check_env
from plugins.snapshots import SNAPSHOT_KEY, code_store, snapshots_clean, version_digest
from plugins.sources.active import fetch_scratch
from plugins.versions import ActivationError, version_activate

log = logging.getLogger(__name__)

Progress = Callable[[str, str], None]


def _quiet(step: str, line: str) -> None:
    log.info("install %s: %s", step, line)


def _pin(entry: PluginEntry, tree: Path) -> tuple[str, Snapshot]:
    roots = code_roots(tree)
    try:
        module_file = entrypoint_file(entrypoint=entry.entrypoint, roots=roots)
        code = snapshot_take(plugin=entry.name, entrypoint=entry.entrypoint, roots=roots, store=code_store())
    except (EntrypointError, SnapshotError) as exc:
        message = _("entrypoint %(entrypoint)s: %(error)s") % {"entrypoint": entry.entrypoint, "error": exc}
        raise InstallError("manifest", message) from None
    return source_checksum(module_file=module_file, entry=entry.identity()), code


def _installed(plugin: Plugin | None) -> list[Installed]:
    if plugin is None:
        return []
    return [
        Installed(
            version=row.version,
            resolved=row.resolved,
            code=version_digest(version=row),
            checksum=row.checksum,
            failed=row.build_state == BuildState.FAILED,
        )
        for row in plugin.versions.all()
    ]


def _check(entry: PluginEntry, code: Snapshot, plugin: Plugin | None, environment: str) -> tuple[dict[str, Any], ...]:
    check = CodeCheck(
        plugin=entry.name,
        entrypoint=entry.entrypoint,
        limits=limits_or_defaults(**entry.limits.model_dump()),
        code=code,
        plugin_id=plugin.pk if plugin else None,
        network=entry.network,
        api=entry.api,
        env=plugin_check_env(plugin=entry.name, env=entry.env),
        environment=environment,
    )
    result = codes_check(checks=[check])[0]
    if result.error:
        raise InstallError("check", result.error)
    return result.commands


def _command_clash(name: str, commands: tuple[dict[str, Any], ...]) -> str:
    """A command another active plugin serves already ('' when there is none)."""
    wanted = [str(c["name"]) for c in commands]
    other = (
        PluginCommand.objects.filter(version__plugin__active_version=F("version"), name__in=wanted)
        .exclude(version__plugin__name=name)
        .select_related("version__plugin")
        .first()
    )
    if other is None:
        return ""
    return _("its code declares command %(command)s, which plugin %(other)s serves") % {
        "command": other.name,
        "other": other.version.plugin.name,
    }


def _settings_problem(entry: PluginEntry, commands: tuple[dict[str, Any], ...]) -> str:
    """What :meth:`PluginEntry.settings_problem` finds against the code's commands ('' if none)."""
    problem = entry.settings_problem([str(c["name"]) for c in commands])
    return "" if problem is None else f"{problem[0]}: {problem[1]}"


def _fields(entry: PluginEntry, fetched: Fetched, checksum: str, code: str) -> dict[str, Any]:
    return {
        "api": entry.api,
        "entrypoint": entry.entrypoint,
        # The whole entry, its health check included (plugins.health reads it from here).
        "manifest": {**entry.model_dump(mode="json"), SNAPSHOT_KEY: code},
        "dependencies": entry.dependencies,
        "requirements": list(entry.requirements),
        "isolation": entry.isolation,
        "network": entry.network,
        "timeout_seconds": entry.limits.timeout_seconds,
        "memory_mb": entry.limits.memory_mb,
        "cpu_seconds": entry.limits.cpu_seconds,
        "queue": entry.queue,
        "checksum": checksum,
        "source_kind": fetched.kind,
        "source": fetched.source,
        "ref": fetched.ref,
        "resolved": fetched.resolved,
        "pins": fetched.pins,
        "environment": fetched.environment,
        "imported_at": timezone.now(),
    }


def _write(plan: Plan, entry: PluginEntry, fields: dict[str, Any], state: str, error: str) -> PluginVersion:
    plugin, _created = Plugin.objects.get_or_create(
        name=entry.name,
        defaults={"enabled": entry.enabled, "default_policy": entry.default_policy, "config": entry.config},
    )
    fields = {**fields, "build_state": state, "build_error": error}
    if plan.action == "replace":
        PluginVersion.objects.filter(plugin=plugin, version=plan.version).update(**fields)
        return PluginVersion.objects.select_related("plugin").get(plugin=plugin, version=plan.version)
    return PluginVersion.objects.create(plugin=plugin, version=plan.version, **fields)


def _failed(plan: Plan, entry: PluginEntry, fields: dict[str, Any], error: InstallError) -> InstallError:
    """Record the failure on the new version's row (never on a row that serves or served)."""
    plugin = Plugin.objects.filter(name=entry.name).first()
    target = plugin.versions.filter(version=plan.version).first() if plugin else None
    if target is not None and target.build_state != BuildState.FAILED:
        return error
    fields = {**fields, "manifest": {k: v for k, v in fields["manifest"].items() if k != SNAPSHOT_KEY}}
    version = _write(plan, entry, fields, BuildState.FAILED, str(error))
    return InstallError(error.step, error.message, version=version)


def install_activate(*, version: PluginVersion, progress: Progress) -> None:
    """Make ``version`` the serving one; InstallError (step ``activate``) when it cannot be."""
    try:
        version_activate(version=version)
    except ActivationError as exc:
        raise InstallError("activate", str(exc), version=version) from None
    Plugin.objects.filter(pk=version.plugin_id).update(load_state=LOADED, updated_at=timezone.now())
    progress("activate", _("%(version)s is active.") % {"version": version})


def _same_source_check(name: str, fetched: Fetched) -> None:
    """A source may not take over a plugin that another source serves: its name is not enough.

    The operator's plugins.yaml entry says which source a plugin comes from; the CLI and
    the admin install from where the plugin already comes from, or a plugin of a new name.
    """
    plugin = Plugin.objects.select_related("active_version").filter(name=name).first()
    serving = plugin.active_version if plugin else None
    if serving is None or serving.source == fetched.source:
        return
    raise InstallError(
        "manifest",
        _(
            "a plugin named %(name)s is installed from %(where)s; upgrade it from there, or uninstall it "
            "first (its data stays) or name this source in its plugins.yaml entry"
        )
        % {"name": name, "where": serving.source or _("a plugin root")},
    )


def _install_fetched(
    *, fetched: Fetched, entry: PluginEntry, activate: bool, progress: Progress, older: LegacyPin | None = None
) -> PluginVersion:
    """Plan, build, check and record the fetched code; ``older``: an older bot's plugin, pinned
    by ``source_older``."""
    checksum, code = (older.checksum, older.code) if older is not None else _pin(entry, fetched.tree)
    plugin = Plugin.objects.filter(name=entry.name).first()
    plan = install_plan(
        wanted=entry.version,
        resolved=fetched.resolved,
        code=code.digest,
        checksum=checksum,
        installed=_installed(plugin),
    )
    if plan.action == "unchanged":
        assert plugin is not None
        version = plugin.versions.select_related("plugin").get(version=plan.version)
        progress("unchanged", _("%(version)s is installed already (unchanged).") % {"version": version})
        if activate and plugin.active_version_id != version.pk:
            install_activate(version=version, progress=progress)
        return version
    fields = _fields(entry, fetched, checksum, code.digest)
    try:
        if older is None:
            fetched = environment_for(fetched=fetched, entry=entry, progress=progress)
        else:
            fetched = older_environment_for(fetched=fetched, older=older, progress=progress)
        fields = _fields(entry, fetched, checksum, code.digest)
        progress("check", _("loading the code in a plugin host"))
        commands = _check(entry, code, plugin, fetched.environment)
        clash = _command_clash(entry.name, commands) or _settings_problem(entry, commands)
        if clash:
            raise InstallError("check", clash)
    except InstallError as exc:
        with transaction.atomic():
            recorded = _failed(plan, entry, fields, exc)
        raise recorded from None
    with transaction.atomic():
        version = _write(plan, entry, fields, BuildState.READY, "")
        commands_derive(version=version, described=commands)
    count = len(commands)
    installed = ngettext(
        "%(version)s installed with %(count)d command.", "%(version)s installed with %(count)d commands.", count
    )
    progress("check", installed % {"version": version, "count": count})
    if activate:
        install_activate(version=version, progress=progress)
    return version


def plugin_install(
    *,
    source: str,
    ref: str = "",
    upload: Path | None = None,
    activate: bool = True,
    progress: Progress = _quiet,
    entry: PluginEntry | None = None,
) -> PluginVersion:
    """Install the plugin at ``source`` (or the archive ``upload``) and return its version.

    ``entry``: the operator's plugins.yaml entry for it (``importplugins``), whose fields
    win over the plugin's own manifest. Raises :class:`InstallError` naming the step that
    failed; a version that failed to build or load is recorded inactive, with its error.
    """
    with fetch_scratch() as work:
        fetched = source_fetch_any(source=source, ref=ref, upload=upload, into=work, progress=progress)
        own = source_plugin_file(fetched)
        older = source_older(fetched=fetched, own=own, entry=entry, progress=progress)
        if older is None:
            wanted = source_manifest(own=own, entry=entry)
        else:
            wanted = older.entry
            fetched = replace(fetched, resolved=older.origin.resolved)
        progress("manifest", f"{wanted.name} {wanted.version} ({wanted.entrypoint})")
        if entry is None:
            _same_source_check(wanted.name, fetched)
        version = _install_fetched(fetched=fetched, entry=wanted, activate=activate, progress=progress, older=older)
    snapshots_clean()
    return version


def plugin_upgrade(*, name: str, progress: Progress = _quiet) -> PluginVersion:
    """Fetch the plugin's source again (same ref: a branch moves on) and install what it is now."""
    plugin = Plugin.objects.select_related("active_version").filter(name=name).first()
    if plugin is None:
        raise InstallError("source", _("There is no plugin named %(name)s.") % {"name": name})
    current = plugin.active_version or plugin.versions.order_by("-imported_at").first()
    if current is None or not current.source:
        raise InstallError(
            "source",
            _("%(name)s was not installed from a source; edit its plugins.yaml entry and run importplugins.")
            % {"name": name},
        )
    return plugin_install(source=current.source, ref=current.ref, activate=True, progress=progress)


def plugin_uninstall(*, name: str, purge: bool = False) -> str:
    """Remove the plugin and its versions; its data folder goes too only with ``purge``."""
    plugin = Plugin.objects.filter(name=name).first()
    if plugin is None:
        raise InstallError("uninstall", _("There is no plugin named %(name)s.") % {"name": name})
    dependents = sorted(
        {
            v.plugin.name
            for v in PluginVersion.objects.filter(plugin__active_version=F("pk"))
            .exclude(plugin=plugin)
            .select_related("plugin")
            if name in (v.dependencies or {})
        }
    )
    if dependents:
        raise InstallError(
            "uninstall",
            _("%(others)s depend on %(name)s; uninstall them first.") % {"others": ", ".join(dependents), "name": name},
        )
    with transaction.atomic():
        Plugin.objects.filter(pk=plugin.pk).update(active_version=None)
        plugin.delete()
    data = Path(settings.PLUGIN_DATA_DIR) / name
    if purge:
        shutil.rmtree(data, ignore_errors=True)
    snapshots_clean()  # and the environments no version refers to
    if purge or not data.exists():
        return _("%(name)s uninstalled.") % {"name": name}
    return _("%(name)s uninstalled; its data stays in %(folder)s.") % {"name": name, "folder": data}
