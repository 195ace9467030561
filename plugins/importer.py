"""Import a plugins.yaml file into the database: one transaction, idempotent.

Every entry is validated first (the file, entrypoints inside the plugin roots, dependencies
against the file and the database); one invalid entry raises :class:`ManifestError` and
nothing changes. Then each plugin is created, updated or left unchanged. A new version is
added beside the old ones and activated when its dependencies and requirements are met.

The code of each new or changed entry is pinned and loaded in a plugin host
(``plugins.codecheck``), never in this process. An entry whose code does not load is left
out, with its error in the report, and the others are imported; a version it replaces
keeps serving.

A plugin's commands (names, arguments, summaries, help and translations) are what that
host reports its code declares (``plugins.commands``); the entry adds only each command's
policy and filters. ``summary``, ``args`` and ``docs`` in an older file are read, ignored
and named in the report's notices.

An entry whose text and code are unchanged since the last import is left alone entirely
(no host is started for it), so settings an operator changed in the admin (enabled,
policy, config) survive ``make run``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from plugins.codecheck import CodeCheck, codes_check
from plugins.commands import commands_derive
from plugins.constraints import constraint_problem, dependency_order, version_equal
from plugins.entrypoints import EntrypointError, entrypoint_file, source_checksum
from plugins.execution import limits_or_defaults
from plugins.health import LOADED, UNKNOWN
from plugins.install import plugin_install
from plugins.installplan import InstallError
from plugins.legacyinstall.entries import LegacyPin, Origin, legacy_manifest_pin
from plugins.manifest import Manifest, ManifestError, PluginEntry, manifest_load, manifest_notices
from plugins.models import Plugin, PluginCommand, PluginVersion
from plugins.sandbox.snapshot import Snapshot, SnapshotError, snapshot_retire, snapshot_take
from plugins.secrets import SecretError, entry_env_store, plugin_check_env
from plugins.snapshots import SNAPSHOT_KEY, code_store, snapshots_clean, version_digest
from plugins.versions import ActivationError, version_activate, version_find

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did (or, in a dry run, would do), by ``name version``."""

    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    activated: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()  # entries left out, one line each: their code does not load
    notices: tuple[str, ...] = ()  # fields of the file that the code supplies now, ignored
    dry_run: bool = False


@dataclass(slots=True)
class _Tally:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    activated: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _error(manifest: Manifest, entry: PluginEntry, fieldname: str, reason: str) -> ManifestError:
    index = next(i for i, e in enumerate(manifest.plugins) if e.name == entry.name)
    return ManifestError(file=manifest.file, index=index, name=entry.name, field=fieldname, reason=reason)


def _pins(manifest: Manifest, roots: Sequence[Path], legacy: dict[str, LegacyPin]) -> dict[str, tuple[str, Snapshot]]:
    """Per plugin: the checksum of entry and code, and the snapshot pinning the code.

    Files only: the entrypoint is found and its code copied, none of it is run here. The
    older bot's plugins come pinned already (``legacy``).
    """
    pins: dict[str, tuple[str, Snapshot]] = {}
    for entry in manifest.plugins:
        if entry.source:
            continue  # fetched and pinned by plugins.install
        if entry.name in legacy:
            pins[entry.name] = (legacy[entry.name].checksum, legacy[entry.name].code)
            continue
        try:
            module_file = entrypoint_file(entrypoint=entry.entrypoint, roots=roots)
            code = snapshot_take(plugin=entry.name, entrypoint=entry.entrypoint, roots=roots, store=code_store())
        except (EntrypointError, SnapshotError) as exc:
            raise _error(manifest, entry, "entrypoint", str(exc)) from None
        checksum = source_checksum(module_file=module_file, entry=entry.identity())
        pins[entry.name] = (checksum, code)
    return pins


def _unchanged(manifest: Manifest, pins: dict[str, tuple[str, Snapshot]]) -> set[str]:
    """The entries whose version is installed with the same checksum and code."""
    rows = PluginVersion.objects.filter(plugin__name__in=[e.name for e in manifest.plugins])
    installed = list(rows.select_related("plugin"))
    same = set()
    for entry in (e for e in manifest.plugins if e.name in pins):
        named = (r for r in installed if r.plugin.name == entry.name)
        row = next((r for r in named if version_equal(r.version, entry.version)), None)
        checksum, code = pins[entry.name]
        if row is not None and row.checksum == checksum and version_digest(version=row) == code.digest:
            same.add(entry.name)
    return same


Described = dict[str, tuple[dict[str, Any], ...]]  # plugin name -> the commands its code declares


def _code_checks(
    manifest: Manifest, pins: dict[str, tuple[str, Snapshot]], legacy: dict[str, LegacyPin]
) -> tuple[dict[str, str], Described]:
    """Load each new or changed entry's code in a plugin host (an older bot's, on its environment).

    Returns the entries that fail, and why, and the commands each loaded one declares.
    """
    unchanged = _unchanged(manifest, pins)
    entries = [e for e in manifest.plugins if e.name in pins and e.name not in unchanged]
    # An installed plugin's code is checked under its own uid; a new one's under the spare.
    ids = dict(Plugin.objects.filter(name__in=[e.name for e in entries]).values_list("name", "pk"))
    checks = [
        CodeCheck(
            plugin=e.name,
            entrypoint=e.entrypoint,
            limits=limits_or_defaults(**e.limits.model_dump()),
            code=pins[e.name][1],
            plugin_id=ids.get(e.name),
            network=e.network,
            api=e.api,
            environment=legacy[e.name].origin.environment if e.name in legacy else "",
            env=plugin_check_env(plugin=e.name, env=e.env),
        )
        for e in entries
    ]
    results = codes_check(checks=checks)
    errors = {
        e.name: str(_error(manifest, e, "entrypoint", r.error))
        for e, r in zip(entries, results, strict=True)
        if r.error
    }
    described = {e.name: r.commands for e, r in zip(entries, results, strict=True) if not r.error}
    return errors, described


def _env_store(manifest: Manifest, entry: PluginEntry) -> None:
    """Keep the entry's ``env:`` as the plugin's secrets (names only in the log)."""
    try:
        changed = entry_env_store(plugin=entry.name, env=entry.env)
    except SecretError as exc:
        raise _error(manifest, entry, "env", str(exc)) from None
    if changed:
        log.info("%s: secrets set from env: %s", entry.name, ", ".join(changed))


def _command_names(manifest: Manifest, described: Described) -> dict[str, list[str]]:
    """Per entry, the commands its code declares (for an unchanged entry: its installed rows)."""
    names = {name: [str(c["name"]) for c in commands] for name, commands in described.items()}
    for entry in manifest.plugins:
        if entry.name not in names and not entry.source:
            version = next(
                (
                    v
                    for v in PluginVersion.objects.filter(plugin__name=entry.name)
                    if version_equal(v.version, entry.version)
                ),
                None,
            )
            names[entry.name] = list(version.commands.values_list("name", flat=True)) if version else []
    return names


def _check_command_settings(manifest: Manifest, names: dict[str, list[str]], left_out: Collection[str]) -> None:
    """The commands the file configures (policy, filters, health check) must be in the code."""
    for entry in manifest.plugins:
        if entry.name in left_out:
            continue
        problem = entry.settings_problem(names[entry.name])
        if problem is not None:
            raise _error(manifest, entry, *problem)


def _check_dependencies(manifest: Manifest) -> None:
    in_file = {e.name: [e.version] for e in manifest.plugins if e.version}
    for entry in manifest.plugins:
        for dep, constraint in sorted(entry.dependencies.items()):
            installed = list(PluginVersion.objects.filter(plugin__name=dep).values_list("version", flat=True))
            installed += in_file.get(dep, [])
            problem = constraint_problem(plugin=entry.name, dependency=dep, constraint=constraint, installed=installed)
            if problem:
                raise _error(manifest, entry, f"dependencies.{dep}", problem)


Word = tuple[str, str]  # a command's own prefix ("": the bot's) and its name


def _word(prefix: str, name: str) -> Word:
    # A command that brings the bot's own prefix is written as the bot's commands are.
    return ("" if prefix == settings.BOT_CONFIG.command_prefix else prefix), name


def _command_words(manifest: Manifest, described: Described) -> dict[str, list[Word]]:
    """Per entry, how a message names each of its commands: its own prefix and its name."""
    words = {name: [_word(str(c.get("prefix", "")), str(c["name"])) for c in cmds] for name, cmds in described.items()}
    for entry in manifest.plugins:
        if entry.name not in words:
            version = next(
                (
                    v
                    for v in PluginVersion.objects.filter(plugin__name=entry.name)
                    if version_equal(v.version, entry.version)
                ),
                None,
            )
            rows = version.commands.values_list("prefix", "name") if version else []
            words[entry.name] = [_word(prefix, name) for prefix, name in rows]
    return words


def _check_command_owners(manifest: Manifest, words: dict[str, list[Word]], left_out: Collection[str]) -> None:
    """A command (its prefix and name) must belong to one plugin, counting active plugins not in the file."""
    in_file = {e.name for e in manifest.plugins}
    owners = {
        _word(prefix, name): plugin
        for prefix, name, plugin in PluginCommand.objects.filter(version__plugin__active_version=F("version"))
        .exclude(version__plugin__name__in=in_file)
        .values_list("prefix", "name", "version__plugin__name")
    }
    for entry in manifest.plugins:
        if entry.name in left_out:
            continue
        for word in words[entry.name]:
            other = owners.setdefault(word, entry.name)
            if other != entry.name:
                reason = f"its code declares command {''.join(word)!r}, which plugin {other!r} serves too"
                raise _error(manifest, entry, "entrypoint", reason)


def _claim_default_handler(manifest: Manifest, left_out: Collection[str]) -> None:
    """Let the file's default handler take over from another plugin the file names too."""
    wanted = next((e for e in manifest.plugins if e.default_handler and e.name not in left_out), None)
    if wanted is None:
        return
    names = {e.name for e in manifest.plugins}
    holder = Plugin.objects.filter(default_handler=True).exclude(name=wanted.name).first()
    if holder is None:
        return
    if holder.name not in names:
        reason = f"plugin {holder.name!r} is already the default handler; unset it in the admin first"
        raise _error(manifest, wanted, "default_handler", reason)
    Plugin.objects.filter(pk=holder.pk).update(default_handler=False)


def _order(manifest: Manifest) -> list[PluginEntry]:
    by_name = {e.name: e for e in manifest.plugins}
    try:
        names = dependency_order({e.name: list(e.dependencies) for e in manifest.plugins})
    except ValueError as exc:
        first = by_name[str(exc).split(": ", 1)[1].split(" -> ")[0]]
        raise _error(manifest, first, "dependencies", str(exc)) from None
    return [by_name[n] for n in names]


def _plugin_fields(entry: PluginEntry) -> dict[str, Any]:
    return {
        "enabled": entry.enabled,
        "default_policy": entry.default_policy,
        "default_handler": entry.default_handler,
        "config": entry.config,
    }


def _version_fields(entry: PluginEntry, checksum: str, code: str, origin: Origin | None) -> dict[str, Any]:
    where = {}
    if origin is not None:
        where = {"source_kind": origin.kind, "source": origin.source, "resolved": origin.resolved}
        where |= {"pins": origin.pins, "environment": origin.environment}
    return {
        **where,
        "api": entry.api,
        "entrypoint": entry.entrypoint,
        # The pinned code this version runs (see plugins.snapshots).
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
    }


def _commands_write(version: PluginVersion, described: tuple[dict[str, Any], ...]) -> None:
    version.refresh_from_db(fields=["manifest"])  # the entry's command settings, just written
    commands_derive(version=version, described=described)


def _activate(version: PluginVersion, label: str, replaced: frozenset[str], tally: _Tally) -> bool:
    try:
        version_activate(version=version, dependents_replaced=replaced)
    except ActivationError as exc:
        tally.warnings.append(f"{label} installed but not activated: {exc}")
        return False
    tally.activated.append(label)
    return True


def _settings_apply(plugin: Plugin, entry: PluginEntry) -> None:
    """The entry's plugin-wide settings (config, policy, enabled, default handler): they go
    with the version they came with, so a version that could not be activated leaves the
    one still serving its own."""
    Plugin.objects.filter(pk=plugin.pk).update(**_plugin_fields(entry), updated_at=timezone.now())


def _import_entry(
    entry: PluginEntry,
    pin: tuple[str, Snapshot],
    described: tuple[dict[str, Any], ...],
    replaced: frozenset[str],
    tally: _Tally,
    origin: Origin | None = None,
) -> None:
    checksum, code = pin[0], pin[1].digest
    label = f"{entry.name} {entry.version}"
    plugin, plugin_created = Plugin.objects.get_or_create(name=entry.name, defaults=_plugin_fields(entry))
    version = version_find(plugin=plugin, version=entry.version)
    # The checksum covers the entry and the entrypoint's own files; the code digest, every
    # file of its top package: a changed helper module beside the entrypoint is a change.
    if version is not None and version.checksum == checksum and version_digest(version=version) == code:
        tally.unchanged.append(label)
        # Its code loaded when it was imported: a plugin not yet run is loaded, not unknown.
        Plugin.objects.filter(pk=plugin.pk, load_state=UNKNOWN).update(load_state=LOADED)
        blocked = plugin.active_version_id != version.pk and version.activated_at is None  # not rolled back from
        if blocked and _activate(version, label, replaced, tally):
            # Blocked last time (say, a missing requirement), met now: with its settings.
            _settings_apply(plugin, entry)
        return
    if version is None:
        version = PluginVersion.objects.create(
            plugin=plugin, version=entry.version, **_version_fields(entry, checksum, code, origin)
        )
        (tally.created if plugin_created else tally.updated).append(label)
    else:
        old = version_digest(version=version)
        PluginVersion.objects.filter(pk=version.pk).update(**_version_fields(entry, checksum, code, origin))
        if old and old != code:
            snapshot_retire(store=code_store(), plugin=entry.name, digest=old)
        tally.updated.append(label)
    _commands_write(version, described)
    # An edited entry is the operator's instruction: the version it names becomes active.
    if _activate(version, label, replaced, tally):
        # The code check loaded this code in a plugin host: it is what serves now.
        Plugin.objects.filter(pk=plugin.pk).update(load_state=LOADED)
        if not plugin_created:
            _settings_apply(plugin, entry)


def _install_sourced(entry: PluginEntry, tally: _Tally, *, dry_run: bool) -> str:
    """Install an entry that names its source (fetch, build, check, activate); why it failed, or ''."""
    if dry_run:
        tally.warnings.append(f"{entry.name}: from {entry.source}: not fetched in a dry run")
        return ""
    steps: list[str] = []
    existed = Plugin.objects.filter(name=entry.name).exists()
    try:
        version = plugin_install(
            source=entry.source, ref=entry.ref, entry=entry, progress=lambda step, _line: steps.append(step)
        )
    except InstallError as exc:
        return str(exc)
    label = str(version)
    if "unchanged" in steps:
        tally.unchanged.append(label)
    else:
        (tally.updated if existed else tally.created).append(label)
    if "activate" in steps:
        tally.activated.append(label)
    return ""


def _configured_handler_missing() -> list[str]:
    """A warning when ``config.yaml``'s ``default_handler`` names no installed plugin."""
    name = settings.BOT_CONFIG.default_handler
    if not name or Plugin.objects.filter(name=name).exists():
        return []
    return [f"config.yaml: default_handler: no plugin named {name!r} is installed; plain text goes unanswered"]


def plugins_import(*, path: Path, roots: Sequence[Path] | None = None, dry_run: bool = False) -> ImportReport:
    """Validate ``path`` and bring the database in line with it, atomically.

    Raises :class:`ManifestError` for the first invalid entry; then nothing has changed.
    An entry whose code does not load is left out and named in ``errors``.
    With ``dry_run`` the same work runs and is rolled back, so the report is exact.
    """
    roots = list(settings.PLUGIN_ROOTS if roots is None else roots)
    manifest = manifest_load(path=path)
    notices = manifest_notices(manifest)
    for notice in notices:
        log.info("%s", notice)
    legacy: dict[str, LegacyPin] = {}
    if manifest.legacy:
        manifest, legacy = legacy_manifest_pin(manifest=manifest)
    pins = _pins(manifest, roots, legacy)
    errors, described = _code_checks(manifest, pins, legacy)
    # Entries with a source are installed after the others, each through plugins.install.
    sourced = [e for e in manifest.plugins if e.source]
    left_out = {**errors, **{e.name: "" for e in sourced}}
    tally = _Tally()
    with transaction.atomic():
        _check_dependencies(manifest)
        names = _command_names(manifest, described)
        _check_command_settings(manifest, names, left_out)
        _check_command_owners(manifest, _command_words(manifest, described), left_out)
        _claim_default_handler(manifest, left_out)
        # Dependents in the file are judged by their new entries, not their old versions
        # (those left out keep theirs).
        replaced = frozenset(e.name for e in manifest.plugins if e.name not in errors)
        for entry in _order(manifest):
            if entry.name not in left_out:
                origin = legacy[entry.name].origin if entry.name in legacy else None
                _import_entry(entry, pins[entry.name], described.get(entry.name, ()), replaced, tally, origin)
                _env_store(manifest, entry)
        tally.warnings.extend(_configured_handler_missing())
        if dry_run:
            transaction.set_rollback(True)
    if not dry_run:
        snapshots_clean()
    for entry in (e for e in _order(manifest) if e.source):
        problem = _install_sourced(entry, tally, dry_run=dry_run)
        if problem:
            errors[entry.name] = str(_error(manifest, entry, "source", problem))
        elif not dry_run:
            try:
                _env_store(manifest, entry)
            except ManifestError as exc:
                errors[entry.name] = str(exc)
    return ImportReport(
        created=tuple(tally.created),
        updated=tuple(tally.updated),
        unchanged=tuple(tally.unchanged),
        activated=tuple(tally.activated),
        warnings=tuple(tally.warnings),
        errors=tuple(errors[e.name] for e in manifest.plugins if e.name in errors),
        notices=notices,
        dry_run=dry_run,
    )
