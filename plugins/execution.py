"""Run a plugin version's command or health check: in its plugin host, or inline.

The worker's side of isolation. Hosts are pooled per worker process (``_pool``); inline
plugins are cached per process (``_inline``). Both are keyed by the plugin version and
renewed when the plugin's generation changes (a reload, or any change to the plugin in
the admin), which every worker process sees because the generation lives in the database.
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

from plugins.api import Context, Platform, Plugin, Storage
from plugins.loader import PluginLoadError, plugin_class_load, plugin_modules_purge
from plugins.models import PluginVersion
from plugins.sandbox.host import UNAVAILABLE, Host, HostLoadError, HostSpec, Limits
from plugins.sandbox.pool import HostPool
from plugins.sandbox.protocol import attachment_from_wire
from plugins.sandbox.runner import Outcome, command_run, health_run

log = logging.getLogger(__name__)
Caller = Callable[[str, dict[str, Any]], Any]

_pool = HostPool()
_inline: dict[int, tuple[str, Plugin]] = {}
atexit.register(_pool.close_all)


def plugin_data_dir(*, name: str) -> Path:
    """The plugin's own folder: its storage, its cwd in the host; kept across versions."""
    path = Path(settings.PLUGIN_DATA_DIR) / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def version_limits(*, version: PluginVersion) -> Limits:
    """The version's own limits where it sets them, else config.yaml's ``plugin_limits``."""
    defaults = settings.BOT_CONFIG.plugin_limits
    return Limits(
        timeout_seconds=version.timeout_seconds or defaults.timeout_seconds,
        memory_mb=version.memory_mb or defaults.memory_mb,
        cpu_seconds=version.cpu_seconds or defaults.cpu_seconds,
    )


def version_generation(*, version: PluginVersion) -> str:
    """Changes whenever the plugin is reloaded (or edited): hosts of an older one retire."""
    plugin = version.plugin
    return f"{plugin.updated_at.timestamp():.6f}/{version.checksum}"


def host_spec(*, version: PluginVersion) -> HostSpec:
    return HostSpec(
        plugin=version.plugin.name,
        entrypoint=version.entrypoint,
        roots=tuple(str(r) for r in settings.PLUGIN_ROOTS),
        data_dir=plugin_data_dir(name=version.plugin.name),
        limits=version_limits(version=version),
        prefix=settings.BOT_CONFIG.command_prefix,
    )


def _inline_instance(version: PluginVersion) -> Plugin:
    generation = version_generation(version=version)
    cached = _inline.get(version.pk)
    if cached is not None and cached[0] == generation:
        return cached[1]
    if cached is not None:
        plugin_modules_purge(entrypoint=version.entrypoint)
    try:
        instance = plugin_class_load(entrypoint=version.entrypoint, roots=settings.PLUGIN_ROOTS)()
    except PluginLoadError:
        if cached is None:
            raise
        # A failed reload keeps the previous code serving.
        log.exception("reload of %s failed; the previous code keeps serving", version)
        instance = cached[1]
    _inline[version.pk] = (generation, instance)
    return instance


def _inline_context(version: PluginVersion, raw: dict[str, Any], on_call: Caller) -> Context:
    return Context(
        user_id=raw["user_id"],
        conversation=raw["conversation"],
        conversation_type=raw["conversation_type"],
        language=raw["language"],
        command=raw["command"],
        plugin=version.plugin.name,
        config=raw["config"],
        is_admin=raw["is_admin"],
        groups=tuple(raw["groups"]),
        attachments=tuple(attachment_from_wire(a) for a in raw["attachments"]),
        storage=Storage(plugin_data_dir(name=version.plugin.name) / "storage.sqlite3"),
        logger=logging.getLogger(f"plugins.{version.plugin.name}"),
        platform=Platform(on_call),
    )


def _inline_request(version: PluginVersion, message: dict[str, Any], on_call: Caller) -> Outcome:
    try:
        instance = _inline_instance(version)
    except PluginLoadError as exc:
        return Outcome(UNAVAILABLE, error=str(exc))
    if message["op"] == "health":
        return health_run(instance=instance)
    ctx = _inline_context(version, message["ctx"], on_call)
    return command_run(
        instance=instance,
        command=message["command"],
        arguments=message["arguments"],
        ctx=ctx,
        prefix=settings.BOT_CONFIG.command_prefix,
    )


def version_request(*, version: PluginVersion, message: dict[str, Any], on_call: Caller) -> Outcome:
    """Send ``message`` (``run`` or ``health``) to the version's code and return the outcome."""
    if version.isolation == PluginVersion.Isolation.INLINE:
        return _inline_request(version, message, on_call)
    generation = version_generation(version=version)
    try:
        host = _pool.acquire(key=version.pk, generation=generation, spec=host_spec(version=version))
    except HostLoadError as exc:
        return Outcome(UNAVAILABLE, error=str(exc))
    try:
        return host.request(message, on_call=on_call)
    finally:
        _pool.release(key=version.pk, generation=generation, host=host)


def version_try_load(*, version: PluginVersion) -> list[dict[str, Any]]:
    """Load the version's current code in a fresh host and describe its commands.

    Raises HostLoadError with the reason. Used by a reload before anything switches over.
    """
    host = Host(host_spec(version=version))
    try:
        return host.commands
    finally:
        host.close()


def pool_hosts() -> list[Host]:
    """The idle plugin hosts of this process (for the benchmark and the tests)."""
    return _pool.hosts()


def pool_close() -> None:
    _pool.close_all()
    _inline.clear()
