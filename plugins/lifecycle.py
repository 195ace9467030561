"""Operating plugins: reload, enable, disable, activate a version, roll back, list.

One service per action, shared by the admin, ``manage.py plugins`` and the chat's
``/plugins`` (:func:`plugin_action`); a rollback is ``plugins.versions.version_rollback``.
Messages are for the operator or admin who asked, in their language.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from plugins import versions
from plugins.commands import commands_derive
from plugins.environments.store import environment_size
from plugins.execution import hosts_start_here, version_code_try
from plugins.health import RELOAD_FAILED, plugin_error_rate
from plugins.models import Plugin
from plugins.sandbox.host import HostLoadError
from plugins.sandbox.snapshot import SnapshotError
from plugins.snapshots import version_code_record
from plugins.versions import ActivationError

log = logging.getLogger(__name__)
# How long a process that may not start plugin hosts waits for the worker it hands a reload to.
RELOAD_WAIT_SECONDS = 60.0


class LifecycleError(Exception):
    """The action could not be done; the message says why, for whoever asked."""


class ReloadPending(LifecycleError):
    """A reload handed to a worker got no answer in time; it runs when a worker takes it."""


def plugin_get(*, name: str) -> Plugin:
    plugin = Plugin.objects.select_related("active_version").filter(name=name).first()
    if plugin is None:
        raise LifecycleError(_("There is no plugin named %(name)s.") % {"name": name})
    return plugin


def plugin_reload(*, plugin: Plugin, wait: float = RELOAD_WAIT_SECONDS) -> str:
    """Reload the plugin's code (:func:`plugin_reload_here`), in this process if it may start
    plugin hosts, else in a worker, waiting up to ``wait`` seconds for its answer.

    A process that cannot confine plugin code (not root) with PLUGINS_CONFINED_ONLY set
    (the broker that serves the admin, ``manage.py`` in its container) never loads a
    plugin's code itself: a root worker does, in its sandbox. ReloadPending when no worker
    answers in time.
    """
    if hosts_start_here():
        return plugin_reload_here(plugin=plugin)
    from celery.exceptions import TimeoutError as CeleryTimeout

    from plugins.tasks import plugin_reload_task

    queued = plugin_reload_task.delay(plugin.pk, translation.get_language() or "")
    try:
        answer = queued.get(timeout=wait, propagate=False)
    except CeleryTimeout:
        raise ReloadPending(
            _(
                "The reload of %(name)s was handed to a worker, which has not answered in %(seconds)d "
                "seconds; it runs when a worker takes it, and the plugin's state and last error show "
                "how it went."
            )
            % {"name": plugin.name, "seconds": wait}
        ) from None
    finally:
        queued.forget()
    if not isinstance(answer, dict) or not isinstance(answer.get("message"), str):
        raise LifecycleError(
            _("The worker could not reload %(name)s: %(error)s") % {"name": plugin.name, "error": answer}
        )
    if not answer.get("ok"):
        raise LifecycleError(answer["message"])
    return str(answer["message"])


def plugin_reload_worker(*, plugin_id: int, language: str) -> dict[str, object]:
    """Reload plugin ``plugin_id`` here (a worker), answering in ``language``: ``ok`` and ``message``."""
    with translation.override(language or None):
        try:
            return {"ok": True, "message": plugin_reload_here(plugin=plugin_get_by_id(plugin_id=plugin_id))}
        except LifecycleError as exc:
            return {"ok": False, "message": str(exc)}


def plugin_get_by_id(*, plugin_id: int) -> Plugin:
    plugin = Plugin.objects.select_related("active_version").filter(pk=plugin_id).first()
    if plugin is None:
        raise LifecycleError(_("That plugin does not exist any more."))
    return plugin


def plugin_reload_here(*, plugin: Plugin) -> str:
    """Load the plugin's code from disk again; every worker runs it from the next invocation.

    The code on disk is pinned (snapshot) and loaded in a fresh plugin host. Only if that
    works does the snapshot become the version's code. If it fails, nothing switches over:
    the previous snapshot keeps serving, in every worker and in hosts started later, and
    the error lands in the plugin's state, last error and the log, and in the LifecycleError.
    """
    version = plugin.active_version
    if version is None:
        raise LifecycleError(_("%(name)s has no active version.") % {"name": plugin.name})
    try:
        code, described = version_code_try(version=version)
    except (HostLoadError, SnapshotError) as exc:
        Plugin.objects.filter(pk=plugin.pk).update(
            last_error=str(exc), last_error_at=timezone.now(), load_state=RELOAD_FAILED
        )
        log.error("reload of plugin %s failed, previous code keeps serving: %s", plugin.name, exc)
        raise LifecycleError(
            _("Reloading %(name)s failed; the previous code keeps serving. %(error)s")
            % {"name": plugin.name, "error": exc}
        ) from None
    with transaction.atomic():
        version_code_record(version=version, digest=code.digest)
        commands_derive(version=version, described=described)
        # A failed reload's error is settled by this one; an invocation's last error stays.
        Plugin.objects.filter(pk=plugin.pk, load_state=RELOAD_FAILED).update(last_error="", last_error_at=None)
        # updated_at is the reload generation every worker compares before each invocation.
        Plugin.objects.filter(pk=plugin.pk).update(updated_at=timezone.now(), load_state="loaded")
    log.info("plugin %s reloaded (code %s)", plugin.name, code.digest[:12])
    return _("%(name)s reloaded.") % {"name": plugin.name}


def plugin_enabled_set(*, plugin: Plugin, enabled: bool) -> str:
    Plugin.objects.filter(pk=plugin.pk).update(enabled=enabled)
    if enabled:
        return _("%(name)s enabled.") % {"name": plugin.name}
    return _("%(name)s disabled.") % {"name": plugin.name}


def plugin_version_activate(*, plugin: Plugin, version: str) -> str:
    """Make ``version`` active; unmet dependencies or requirements refuse, naming them."""
    found = versions.version_find(plugin=plugin, version=version) if version else None
    if found is None:
        raise LifecycleError(
            _("%(name)s has no version %(version)s.") % {"name": plugin.name, "version": version or "?"}
        )
    try:
        versions.version_activate(version=found)
    except ActivationError as exc:
        raise LifecycleError(str(exc)) from None
    return _("%(name)s %(version)s is active.") % {"name": plugin.name, "version": found.version}


def plugin_action(*, action: str, name: str, version: str = "") -> str:
    """Run ``action`` on plugin ``name``: reload, enable, disable, activate or rollback."""
    plugin = plugin_get(name=name)
    if action == "reload":
        return plugin_reload(plugin=plugin)
    if action in ("enable", "disable"):
        return plugin_enabled_set(plugin=plugin, enabled=action == "enable")
    if action == "activate":
        return plugin_version_activate(plugin=plugin, version=version)
    if action == "rollback":
        try:
            rolled_back = versions.version_rollback(plugin=plugin)
        except ActivationError as exc:
            raise LifecycleError(str(exc)) from None
        return _("%(name)s %(version)s is active.") % {"name": plugin.name, "version": rolled_back.version}
    raise LifecycleError(_("Unknown action %(action)s.") % {"action": action})


def plugins_overview(*, environments: bool = False) -> list[dict[str, Any]]:
    """Every plugin with version, state, health and error rate, as plain data.

    ``environments``: each row also names the active version's environment ("": the
    bot's own interpreter) and its size on this machine's disk (None: not built here).
    """
    rows = []
    for plugin in Plugin.objects.select_related("active_version").order_by("name"):
        health = plugin.health_status or "-"
        if plugin.health_detail:
            health = f"{health}: {plugin.health_detail}"
        rows.append(
            {
                "name": plugin.name,
                "version": plugin.active_version.version if plugin.active_version else "",
                "enabled": plugin.enabled,
                "load_state": plugin.load_state,
                "health": health,
                "error_rate": round(plugin_error_rate(plugin=plugin), 3),
                "last_error": plugin.last_error.strip().splitlines()[-1] if plugin.last_error.strip() else "",
                "versions": list(plugin.versions.values_list("version", flat=True)),
            }
        )
        if environments:
            environment = plugin.active_version.environment if plugin.active_version else ""
            rows[-1]["environment"] = environment
            rows[-1]["environment_size"] = environment_size(environment) if environment else None
    return rows
