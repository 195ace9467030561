"""Run a plugin version's command or health check: in its plugin host, or inline.

The worker's side of isolation. Hosts are pooled per worker process (``_pool``); inline
plugins are cached per process (``_inline``). Both are keyed by the plugin version and
renewed when the plugin's generation changes (a reload, or any change to the plugin in
the admin), which every worker process sees because the generation lives in the database.
Both load the version's pinned code (``plugins.snapshots``), never the live plugin roots.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext as _

from plugins.api import Context, Platform, Plugin, Storage
from plugins.environments.store import environment_path
from plugins.loader import PluginLoadError
from plugins.models import PluginApi, PluginVersion
from plugins.outcomes import NO_CODE, NO_ENVIRONMENT, SETTING_UP
from plugins.provision import CODE, ProvisionBusy, ProvisionError, version_provision
from plugins.sandbox.cgroups import cgroups_available, cgroups_sweep
from plugins.sandbox.codeload import LoadedCode, code_active, code_load
from plugins.sandbox.confine import Sandbox
from plugins.sandbox.firewall import firewall_install
from plugins.sandbox.host import UNAVAILABLE, Host, HostLoadError, HostSpec, Limits, platform_call
from plugins.sandbox.pool import HostPool
from plugins.sandbox.privileges import secrets_hide
from plugins.sandbox.protocol import attachment_from_wire
from plugins.sandbox.runner import Outcome, command_run, forget_run, health_run
from plugins.sandbox.runtime import plugin_runtime, runtime_compiled_for
from plugins.sandbox.snapshot import Snapshot, SnapshotError
from plugins.sandbox.system import (
    EnvironmentPython,
    InterpreterError,
    environment_binds,
    environment_python,
    system_layout,
    tool_path,
    tool_problem,
)
from plugins.secrets import SecretError, plugin_secrets_env
from plugins.snapshots import live_snapshot, version_code, version_code_record, version_digest

log = logging.getLogger(__name__)
Caller = Callable[[str, dict[str, Any]], Any]

_pool = HostPool()
_inline: dict[int, tuple[str, LoadedCode, Plugin]] = {}
# Inline code runs with its modules swapped into the process-wide sys.modules: worker
# threads take turns, or one thread's swap removes the modules another is running (and
# built-ins share one top-level package). Re-entrant: a plugin may call the platform.
_inline_lock = threading.RLock()
atexit.register(_pool.close_all)


def plugin_data_dir(*, name: str) -> Path:
    """The plugin's own folder: its storage, its cwd in the host; kept across versions."""
    path = Path(settings.PLUGIN_DATA_DIR) / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def _secret_files() -> list[Path]:
    data = Path(settings.DATA_DIR)
    names = ("secret_key", "secrets_key", "bridge_token", "session_mnemonic", "chat_mnemonic")
    files = [*(data / name for name in names), Path(settings.BASE_DIR) / ".env"]
    db = settings.DATABASES["default"]
    if settings.DATABASE_IS_SQLITE:
        files += [Path(f"{db['NAME']}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")]
    return files


def _warn_once(message: str, *args: object) -> None:
    key = message % args
    if key not in _warned:
        _warned.add(key)
        log.warning(message, *args)


_warned: set[str] = set()


@functools.cache
def _cgroups_problem() -> str:
    problem = cgroups_available()
    if not problem:
        cgroups_sweep()  # once per process: what workers killed before they cleaned up left
    return problem


def plugin_uid(*, plugin_id: int | None) -> int:
    """The plugin's own uid (and gid): one per plugin, from the reserved range. Code checked
    before its plugin has a row (``plugin_id`` None) runs as the range's last uid."""
    last = settings.PLUGIN_UID_COUNT - 1
    if plugin_id is None:
        return int(settings.PLUGIN_UID_BASE + last)
    if plugin_id >= last:
        raise HostLoadError(
            _("This plugin was not started: the range of plugin user ids (PLUGIN_UID_COUNT=%(count)s) is used up.")
            % {"count": settings.PLUGIN_UID_COUNT}
        )
    return int(settings.PLUGIN_UID_BASE + plugin_id)


def _network_allowed(network: bool) -> bool:
    if not network:
        return False
    problem = firewall_install(
        nft=tool_path(settings.PLUGIN_NFT),
        first_uid=settings.PLUGIN_UID_BASE,
        last_uid=settings.PLUGIN_UID_BASE + settings.PLUGIN_UID_COUNT - 1,
    )
    if problem and not settings.PLUGINS_NETWORK_WITHOUT_FIREWALL:
        raise HostLoadError(
            _(
                "This plugin was not started: it asks for the network, and this machine's own "
                "services could not be closed to it (%(reason)s). Install nftables, or set "
                "PLUGINS_NETWORK_WITHOUT_FIREWALL=true to let it reach them."
            )
            % {"reason": problem}
        )
    if problem:
        _warn_once("networked plugins can reach this machine's services: %s", problem)
    return True


def runtime_folder() -> Path:
    """The plugin runtime (``plugins.api`` and the host's modules): a host's only import
    of the platform, made once per process under ``DATA_DIR/plugin-runtime``."""
    return plugin_runtime(Path(settings.DATA_DIR) / "plugin-runtime")


def environment_interpreter(*, digest: str) -> EnvironmentPython:
    """The interpreter of environment ``digest``; HostLoadError (the reason) when it is
    not on this machine or cannot be used."""
    try:
        python: Path | None = environment_path(digest) / "bin" / "python"
    except ValueError:  # not a digest: no folder of this machine bears that name
        python = None
    if python is None or not python.exists():
        raise HostLoadError(
            _("This plugin's environment %(digest)s is not on this machine (no %(path)s).")
            % {"digest": digest, "path": python or digest}
        )
    try:
        return environment_python(str(python))
    except InterpreterError as exc:
        raise HostLoadError(
            _("This plugin's environment %(digest)s cannot be used: %(reason)s") % {"digest": digest, "reason": exc}
        ) from None


def confines_here() -> bool:
    """Whether this process confines plugin hosts: only root can build the sandbox."""
    return os.geteuid() == 0


def hosts_start_here() -> bool:
    """Whether this process may start plugin hosts: confined, or not asked to be."""
    return confines_here() or not settings.PLUGINS_CONFINED_ONLY


def plugin_sandbox(
    *,
    plugin_id: int | None,
    network: bool,
    code: Snapshot,
    writable: Path,
    python: EnvironmentPython | None = None,
) -> Sandbox | None:
    """How a host of this plugin's ``code`` is confined: None when the worker is not root
    (hosts keep its user), or when a root worker may not confine them and the operator
    opted in. ``python``: the version's own environment (None: the worker's interpreter),
    bound read-only with the plugin runtime; nothing else of the project is.

    HostLoadError (the reason, for the chat, the admin and the CLI) when a root worker
    cannot confine the host: a plugin never runs as root unless the operator says so; and
    in a process that is not root when PLUGINS_CONFINED_ONLY is set.
    """
    if not confines_here():
        if settings.PLUGINS_CONFINED_ONLY:
            raise HostLoadError(
                _(
                    "This plugin was not started: this process does not run as root, so it cannot "
                    "confine plugin code, and PLUGINS_CONFINED_ONLY=true forbids running it unconfined. "
                    "A worker that runs as root runs it."
                )
            )
        return None
    problem = tool_problem(settings.PLUGIN_BWRAP)
    if problem:
        if settings.PLUGINS_RUN_UNSANDBOXED_AS_ROOT:
            _warn_once("PLUGINS RUN AS ROOT, UNCONFINED (PLUGINS_RUN_UNSANDBOXED_AS_ROOT): %s", problem)
            return None
        raise HostLoadError(
            _(
                "This plugin was not started: the worker runs as root and cannot confine plugin "
                "code (%(reason)s). Install bubblewrap, or set PLUGINS_RUN_UNSANDBOXED_AS_ROOT=true "
                "to run plugins as root anyway."
            )
            % {"reason": problem}
        )
    uid = plugin_uid(plugin_id=plugin_id)
    # Not mounted in the sandbox at all; owner-only all the same, should one leak in.
    secrets_hide(data_dir=Path(settings.DATA_DIR), secret_files=_secret_files(), public_dirs=[])
    links, present = system_layout()
    configs = Path(settings.DATA_DIR) / "plugin-runtime"
    interpreter, emptied, overlays = environment_binds(python, configs=configs)
    return Sandbox(
        bwrap=tool_path(settings.PLUGIN_BWRAP),
        uid=uid,
        gid=uid,
        network=_network_allowed(network),
        read_only=(*interpreter, str(runtime_folder()), str(code.root)),
        writable=str(writable),
        links=links,
        present=present,
        emptied=emptied,
        overlays=overlays,
    )


def _cgroups_wanted(sandbox: Sandbox | None) -> bool:
    if sandbox is None:
        return False
    problem = _cgroups_problem()
    if problem:
        _warn_once("plugin hosts get no cgroup (%s): rlimits and the PID namespace still bind", problem)
    return not problem


def limits_or_defaults(*, timeout_seconds: float | None, memory_mb: int | None, cpu_seconds: float | None) -> Limits:
    """The limits given where set, else config.yaml's ``plugin_limits``."""
    defaults = settings.BOT_CONFIG.plugin_limits
    return Limits(
        timeout_seconds=timeout_seconds or defaults.timeout_seconds,
        memory_mb=memory_mb or defaults.memory_mb,
        cpu_seconds=cpu_seconds or defaults.cpu_seconds,
    )


def version_limits(*, version: PluginVersion) -> Limits:
    """The version's own limits where it sets them, else config.yaml's ``plugin_limits``."""
    return limits_or_defaults(
        timeout_seconds=version.timeout_seconds, memory_mb=version.memory_mb, cpu_seconds=version.cpu_seconds
    )


def version_generation(*, version: PluginVersion, digest: str) -> str:
    """Changes whenever the plugin is reloaded (or edited, or its secrets are set or
    removed: ``plugins.secrets`` moves ``updated_at``), or the version's limits are (a host
    applies its memory limit at start): hosts of an older one retire."""
    limits = version_limits(version=version)
    shape = f"{limits.timeout_seconds:g}/{limits.memory_mb}/{limits.cpu_seconds:g}/net={version.network}"
    shape += f"/env={version.environment}"
    return f"{version.plugin.updated_at.timestamp():.6f}/{digest}/{shape}"


def host_spec(
    *,
    plugin: str,
    plugin_id: int | None,
    network: bool,
    entrypoint: str,
    limits: Limits,
    code: Snapshot,
    data_dir: Path | None = None,
    api: str = PluginApi.SESSIONBOT,
    env: tuple[tuple[str, str], ...] = (),
    environment: str = "",
) -> HostSpec:
    """How to start a host for this code: every host, serving or checking, starts from here.

    ``data_dir``: the host's writable folder, the plugin's own unless given (a code check
    gets a throwaway one, so it never touches the data of a version that is serving).
    ``api``: ``legacy`` loads an older bot's plugin through ``plugins.legacy``.
    ``env``: the plugin's own variables (its secrets), for this host's environment only.
    ``environment``: the digest of the version's own environment, whose interpreter the
    host runs on ("": the worker's); HostLoadError when it is not on this machine.
    """
    folder = data_dir or plugin_data_dir(name=plugin)
    python = environment_interpreter(digest=environment) if environment else None
    runtime = runtime_folder()
    if python is not None:
        runtime_compiled_for(runtime, python.base)
    sandbox = plugin_sandbox(plugin_id=plugin_id, network=network, code=code, writable=folder, python=python)
    return HostSpec(
        plugin=plugin,
        entrypoint=entrypoint,
        roots=(str(code.root),),
        data_dir=folder,
        limits=limits,
        prefix=settings.BOT_CONFIG.command_prefix,
        sandbox=sandbox,
        max_processes=settings.PLUGIN_MAX_PROCESSES,
        cgroups=_cgroups_wanted(sandbox),
        api=str(api),
        env=env,
        python=python.python if python is not None else "",
        runtime=str(runtime),
    )


# Per plugin: the ``updated_at`` its secrets were read at, and them (decrypted), so a
# request served by an idle host costs no query and no decryption.
_secrets_read: dict[int, tuple[float, tuple[tuple[str, str], ...]]] = {}


def _plugin_env(version: PluginVersion) -> tuple[tuple[str, str], ...]:
    """The plugin's secrets for its host; HostLoadError (why, never a value) when one
    cannot be read: the host does not start without them."""
    plugin = version.plugin
    stamp = plugin.updated_at.timestamp()
    cached = _secrets_read.get(plugin.pk)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        env = plugin_secrets_env(plugin=plugin.name)
    except SecretError as exc:
        raise HostLoadError(_("This plugin was not started: %(reason)s") % {"reason": exc}) from None
    _secrets_read[plugin.pk] = (stamp, env)
    return env


def version_host_spec(*, version: PluginVersion, code: Snapshot) -> HostSpec:
    """The host of ``version``: on its own environment's interpreter when it has one."""
    return host_spec(
        plugin=version.plugin.name,
        plugin_id=version.plugin.pk,
        network=version.network,
        entrypoint=version.entrypoint,
        limits=version_limits(version=version),
        code=code,
        api=version.api,
        env=_plugin_env(version),
        environment=version.environment,
    )


def _inline_instance(version: PluginVersion) -> tuple[LoadedCode, Plugin]:
    try:
        pinned = version_code(version=version)
    except SnapshotError as exc:
        raise PluginLoadError(str(exc)) from None
    generation = version_generation(version=version, digest=pinned.snapshot.digest)
    cached = _inline.get(version.pk)
    if cached is not None and cached[0] == generation:
        return cached[1], cached[2]
    try:
        code = code_load(entrypoint=version.entrypoint, root=pinned.snapshot.root)
        with code_active(code):
            try:
                instance = code.cls()
            except Exception as exc:  # the plugin's constructor: reported as a load error
                raise PluginLoadError(f"the plugin did not start: {type(exc).__name__}: {exc}") from exc
    except PluginLoadError:
        if cached is None:
            raise
        log.exception("loading %s failed; the previous code keeps serving", version)
        return cached[1], cached[2]
    if not pinned.recorded:
        version_code_record(version=version, digest=pinned.snapshot.digest, only_if_unset=True)
    _inline[version.pk] = (generation, code, instance)
    return code, instance


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
        platform=Platform(functools.partial(_off_loop, functools.partial(platform_call, on_call))),
    )


def _off_loop(call: Caller, method: str, args: dict[str, Any]) -> Any:
    """``call(method, args)``; from an ``async def`` handler's event loop, on a thread of its
    own (Django refuses database access from a thread that runs an event loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return call(method, args)
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call(method, args)
        except BaseException as exc:  # noqa: BLE001 - handed over to the plugin's thread
            box["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run, name="plugin-platform-call")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _inline_request(version: PluginVersion, message: dict[str, Any], on_call: Caller) -> Outcome:
    with _inline_lock:
        return _inline_request_locked(version, message, on_call)


def _inline_request_locked(version: PluginVersion, message: dict[str, Any], on_call: Caller) -> Outcome:
    try:
        code, instance = _inline_instance(version)
    except PluginLoadError as exc:
        return Outcome(UNAVAILABLE, error=str(exc))
    with code_active(code):
        if message["op"] == "health":
            return health_run(instance=instance, method=message.get("method"))
        ctx = _inline_context(version, message["ctx"], on_call)
        if message["op"] == "forget":
            return forget_run(instance=instance, ctx=ctx)
        return command_run(
            instance=instance,
            command=message["command"],
            arguments=message["arguments"],
            ctx=ctx,
            prefix=str(message.get("prefix") or settings.BOT_CONFIG.command_prefix),
        )


# The versions this process found set up on this machine: a request costs no look at the disk.
_provisioned_here: set[tuple[int, str, str]] = set()


def _provisioned(version: PluginVersion) -> Outcome | None:
    """None once this machine has the version's code and environment (set up now if need
    be); else the outcome that says it is being set up, or why it cannot be."""
    key = (version.pk, version_digest(version=version), version.environment)
    if key in _provisioned_here:
        return None
    try:
        version_provision(version=version)
    except ProvisionBusy:
        return Outcome(SETTING_UP, error=_("another worker of this machine is setting this version up"))
    except ProvisionError as exc:
        return Outcome(NO_CODE if exc.part == CODE else NO_ENVIRONMENT, error=str(exc))
    _provisioned_here.add(key)
    return None


def version_request(*, version: PluginVersion, message: dict[str, Any], on_call: Caller) -> Outcome:
    """Send ``message`` (``run``, ``health`` or ``forget``) to the version's code and return the outcome.

    Inline code (the trusted built-ins) gets no secrets: it runs in the worker's process,
    where ``os.environ`` is every inline plugin's and the worker's own, so they never go there.
    """
    if version.isolation == PluginVersion.Isolation.INLINE:
        return _inline_request(version, message, on_call)
    unprovisioned = _provisioned(version)
    if unprovisioned is not None:
        return unprovisioned
    try:
        pinned = version_code(version=version)
    except SnapshotError as exc:
        return Outcome(UNAVAILABLE, error=str(exc))
    generation = version_generation(version=version, digest=pinned.snapshot.digest)
    try:
        host = _pool.acquire(
            key=version.pk, generation=generation, spec=version_host_spec(version=version, code=pinned.snapshot)
        )
    except HostLoadError as exc:
        return Outcome(UNAVAILABLE, error=str(exc))
    if not pinned.recorded:
        version_code_record(version=version, digest=pinned.snapshot.digest, only_if_unset=True)
    try:
        return host.request(message, on_call=on_call)
    finally:
        _pool.release(key=version.pk, generation=generation, host=host)


def version_code_try(*, version: PluginVersion) -> tuple[Snapshot, list[dict[str, Any]]]:
    """Pin the code now on disk and load it in a fresh host; return it and its commands.

    Raises SnapshotError or HostLoadError with the reason. A reload records the snapshot
    only after this succeeded, so code that does not load never serves. An older bot's
    plugin is not in the plugin roots: its pinned tree is loaded again (a new tree comes
    with a new import of its plugins.yaml).
    """
    try:
        version_provision(version=version)
    except ProvisionBusy:
        raise HostLoadError(_("This plugin is being set up on this machine; try again in a moment.")) from None
    except ProvisionError as exc:
        raise HostLoadError(_("This plugin cannot be set up on this machine: %(reason)s") % {"reason": exc}) from None
    if version.api == PluginApi.LEGACY:
        code = version_code(version=version).snapshot
    else:
        code = live_snapshot(plugin=version.plugin.name, entrypoint=version.entrypoint)
    host = Host(version_host_spec(version=version, code=code))
    try:
        return code, host.commands
    finally:
        host.close()


def pool_hosts() -> list[Host]:
    """The idle plugin hosts of this process (for the benchmark and the tests)."""
    return _pool.hosts()


def pool_close() -> None:
    _pool.close_all()
    _inline.clear()
    _secrets_read.clear()
    _provisioned_here.clear()
