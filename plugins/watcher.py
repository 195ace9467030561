"""Watch the plugin roots and reload the plugins whose files change (DEBUG only).

Started in the Celery worker's main process when DEBUG is on, and by
``manage.py plugins watch``. A reload bumps the plugin's generation in the database, so
every worker process, on every machine, runs the new code from its next invocation.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections

from plugins.lifecycle import LifecycleError, plugin_reload
from plugins.models import Plugin

log = logging.getLogger(__name__)
DEBOUNCE_MS = 150


def changed_packages(*, paths: Iterable[str], roots: Iterable[Path]) -> set[str]:
    """Top-level module names (``weather`` for ``<root>/weather/api.py``) under the roots."""
    names = set()
    for raw in paths:
        path = Path(raw)
        for root in roots:
            try:
                first = path.relative_to(root).parts[0]
            except (ValueError, IndexError):
                continue
            names.add(first.removesuffix(".py"))
    return names


def plugins_reload_for(*, packages: set[str]) -> list[str]:
    """Reload every plugin whose active entrypoint lives in one of ``packages``."""
    reloaded = []
    for plugin in Plugin.objects.select_related("active_version").filter(active_version__isnull=False):
        assert plugin.active_version is not None
        if plugin.active_version.entrypoint.split(":")[0].split(".")[0] not in packages:
            continue
        try:
            plugin_reload(plugin=plugin)
            reloaded.append(plugin.name)
        except LifecycleError as exc:
            log.error("%s", exc)
    return reloaded


def watch_forever(*, stop: threading.Event | None = None) -> None:
    """Block, reloading plugins as their files change, until ``stop`` is set."""
    from watchfiles import DefaultFilter, watch

    roots = [Path(r) for r in settings.PLUGIN_ROOTS if Path(r).is_dir()]
    if not roots:
        return
    log.info("watching plugin code in %s", ", ".join(map(str, roots)))
    # Every file but caches, editors' swap files and version control: a plugin's snapshot
    # pins the whole package, data files (templates, word lists) included.
    for changes in watch(*roots, watch_filter=DefaultFilter(), debounce=DEBOUNCE_MS, step=50, stop_event=stop):
        packages = changed_packages(paths=(p for _, p in changes), roots=roots)
        try:
            names = plugins_reload_for(packages=packages)
            log.info("reloaded after a change on disk: %s", ", ".join(names) or "nothing")
        finally:
            close_old_connections()


def watcher_start() -> threading.Thread:
    thread = threading.Thread(target=watch_forever, name="plugin-watcher", daemon=True)
    thread.start()
    return thread
