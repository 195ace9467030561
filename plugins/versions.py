"""Activating plugin versions, guarded by their dependencies and Python requirements.

A version becomes active only when every plugin it depends on is installed and active in
a version that satisfies the constraint, every Python requirement is met by an installed
distribution, and no active plugin that depends on this one would be broken by it.
"""

from __future__ import annotations

from collections.abc import Collection

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from plugins.constraints import active_constraint_problem, constraint_problem, requirement_problem, version_equal
from plugins.models import BuildState, Plugin, PluginVersion


class ActivationError(Exception):
    """A version cannot be activated; the message says what is unmet, for the operator."""


class DependencyError(ActivationError):
    """A plugin dependency is missing, or installed or active in no matching version."""


class RequirementError(ActivationError):
    """A Python requirement (PEP 508) is not met by the installed distributions."""


def version_find(*, plugin: Plugin, version: str) -> PluginVersion | None:
    """The installed version of ``plugin`` equal to ``version`` by PEP 440 (``1`` finds ``1.0.0``)."""
    rows = list(plugin.versions.select_related("plugin")) if plugin.pk else []
    exact = next((row for row in rows if row.version == version), None)
    return exact or next((row for row in rows if version_equal(row.version, version)), None)


def version_dependencies_check(*, version: PluginVersion) -> None:
    """Raise :class:`DependencyError` unless every dependency is installed and active in a match."""
    label = f"{version.plugin.name} {version.version}"
    for dep_name, constraint in sorted(version.dependencies.items()):
        dep = Plugin.objects.filter(name=dep_name).select_related("active_version").first()
        installed = list(dep.versions.values_list("version", flat=True)) if dep else []
        problem = constraint_problem(plugin=label, dependency=dep_name, constraint=constraint, installed=installed)
        if problem is None and dep is not None:
            active = dep.active_version.version if dep.active_version else None
            problem = active_constraint_problem(plugin=label, dependency=dep_name, constraint=constraint, active=active)
        if problem:
            raise DependencyError(problem)


def version_dependents_check(*, version: PluginVersion, replaced: Collection[str] = ()) -> None:
    """Raise :class:`DependencyError` if activating ``version`` breaks an active dependent.

    Plugins named in ``replaced`` are about to get new versions (an import) and are skipped.
    """
    name = version.plugin.name
    active = (
        PluginVersion.objects.filter(plugin__active_version=F("pk"))
        .exclude(plugin_id=version.plugin_id)
        .exclude(plugin__name__in=list(replaced))
    )
    for other in active.select_related("plugin"):
        constraint = other.dependencies.get(name)
        if constraint is None:
            continue
        label = f"{other.plugin.name} {other.version}"
        if active_constraint_problem(plugin=label, dependency=name, constraint=constraint, active=version.version):
            raise DependencyError(
                _("%(other)s needs %(name)s%(constraint)s; activating %(version)s would break it")
                % {"other": label, "name": name, "constraint": constraint, "version": version.version}
            )


def version_requirements_check(*, version: PluginVersion) -> None:
    """Raise :class:`RequirementError` naming the first unmet Python requirement.

    A version with an environment of its own has its requirements installed there.
    """
    if version.environment:
        return
    label = f"{version.plugin.name} {version.version}"
    if version.environment:
        return  # resolved, pinned and installed in the version's own environment
    for line in version.requirements:
        problem = requirement_problem(plugin=label, requirement=line)
        if problem:
            raise RequirementError(problem)


def version_check(*, version: PluginVersion, dependents_replaced: Collection[str] = ()) -> None:
    """Raise an :class:`ActivationError` if ``version`` may not be activated now."""
    if version.build_state != BuildState.READY:
        raise ActivationError(
            _("%(version)s did not build or load, so it cannot serve: %(error)s")
            % {"version": version, "error": version.build_error or version.build_state}
        )
    version_dependencies_check(version=version)
    version_requirements_check(version=version)
    version_dependents_check(version=version, replaced=dependents_replaced)


def version_activate(*, version: PluginVersion, dependents_replaced: Collection[str] = ()) -> None:
    """Make ``version`` the one that serves its plugin's commands, after :func:`version_check`.

    Raises :class:`ActivationError` (a :class:`DependencyError` or :class:`RequirementError`)
    naming what is unmet; the active version is then unchanged.
    """
    with transaction.atomic():
        # Lock the plugin row: two activations of one plugin must not interleave.
        Plugin.objects.select_for_update().filter(pk=version.plugin_id).values_list("pk").get()
        version_check(version=version, dependents_replaced=dependents_replaced)
        now = timezone.now()
        PluginVersion.objects.filter(pk=version.pk).update(activated_at=now)
        Plugin.objects.filter(pk=version.plugin_id).update(active_version=version, updated_at=now)
        version.activated_at = now


def _rollback_target(plugin: Plugin) -> PluginVersion | None:
    """The version active before the current one, else the one imported before it."""
    others = plugin.versions.exclude(pk=plugin.active_version_id) if plugin.active_version_id else plugin.versions
    previous = others.filter(activated_at__isnull=False).order_by("-activated_at").first()
    if previous is None:
        current = plugin.active_version
        earlier = others.filter(imported_at__lt=current.imported_at) if current else others
        previous = earlier.order_by("-imported_at").first()
    return previous


def version_rollback(*, plugin: Plugin) -> PluginVersion:
    """Activate the version that was active before the current one (else the one imported before).

    The one rollback of the admin, ``manage.py plugins rollback`` and the chat's ``/plugins
    rollback`` (through ``plugins.lifecycle.plugin_action``). The target goes through
    :func:`version_activate`'s checks, so a rollback that would break a dependent, or
    whose dependencies or requirements are unmet, is refused naming why. Raises
    :class:`ActivationError` when there is no earlier version or it cannot be activated.
    """
    with transaction.atomic():
        # Choose under the plugin's lock: two rollbacks at once each step back from what
        # the other left, instead of both choosing the same version.
        Plugin.objects.select_for_update().filter(pk=plugin.pk).values_list("pk").get()
        plugin.refresh_from_db(fields=["active_version"])
        previous = _rollback_target(plugin)
        if previous is None:
            raise ActivationError(_("%(plugin)s has no earlier version to roll back to") % {"plugin": plugin.name})
        version_activate(version=previous)
    return previous
