"""``manage.py runbroker``: the ASGI server (admin and bridge endpoint), a worker and the bridge."""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management import get_commands
from django.core.management.base import CommandParser

from bridgeprotocol.frames import MAX_FRAME_BYTES
from broker.activity import INTERVAL_SECONDS as ROLLUP_SECONDS
from broker.activity import activity_rollup_tick
from broker.httpguard import header_timeout_protocol
from broker.processmetrics import Role, process_source_register
from broker.recovery import broker_recover, recovery_sweep_tick
from broker.retention import retention_purge_tick
from broker.sdnotify import Notifier, watchdog_interval
from broker.selfprobe import SelfProbe
from broker.supervisor import ChildSpec, Periodic, Supervisor
from broker.syscheck import OperatorCommand

log = logging.getLogger("broker.runbroker")
GRACEFUL_SHUTDOWN_SECONDS = 20
# Worker threads mostly wait on the database; SQLite takes one writer at a time, so more
# threads than this only queue for it.
WORKERS_DEFAULT = 8
WORKERS_DEFAULT_SQLITE = 4
DEFAULT_QUEUE = "default"  # Celery's default queue, whatever its name
QUEUE_WORKERS_DEFAULT = 2


def workers_default() -> int:
    """The worker threads ``--workers`` gives by default, for the configured database."""
    return WORKERS_DEFAULT_SQLITE if settings.DATABASE_IS_SQLITE else WORKERS_DEFAULT


def _ignore_signal(signum: int, frame: Any) -> None:
    """uvicorn re-raises the signal it stopped on; we still have children to stop."""


class Command(OperatorCommand):
    logger = log

    help = "Run the bot: ASGI server (admin + /ws/bridge/), a Celery worker and the bundled bridge."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.HOST_IP, help="address to listen on (default HOST_IP)")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-bridge", action="store_true", help="serve the endpoint for an external bridge")
        parser.add_argument("--no-worker", action="store_true", help="Celery workers run elsewhere")
        parser.add_argument(
            "--workers",
            type=int,
            default=workers_default(),
            help=(
                f"worker threads running plugins (default here %(default)s: {WORKERS_DEFAULT} on PostgreSQL, "
                f"{WORKERS_DEFAULT_SQLITE} on SQLite, which takes one writer at a time)"
            ),
        )
        parser.add_argument(
            "--queues",
            default=DEFAULT_QUEUE,
            help=(
                "Celery queues the workers serve, comma-separated (default %(default)s: the default queue). "
                "Each queue gets a worker of its own, so a slow plugin's queue never holds up another: "
                "--queues llm,default on a machine that also serves everyone else, --queues llm --no-bridge "
                "on a machine that serves only plugins on the llm queue"
            ),
        )
        parser.add_argument(
            "--queue-workers",
            type=int,
            default=QUEUE_WORKERS_DEFAULT,
            help="worker threads for each queue but the default one (default %(default)s)",
        )
        parser.add_argument(
            "--rollup-interval",
            type=float,
            default=ROLLUP_SECONDS,
            help="seconds between two counts of the dashboard's hourly activity (default %(default)s)",
        )
        parser.add_argument("--debug", action="store_true", help="log message text (never in production)")
        parser.add_argument(
            "--watchdog-readyz",
            action="store_true",
            help="feed the systemd watchdog only while /readyz passes too (default: while /livez answers)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        env = dict(os.environ)
        for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
            env.pop(name, None)  # systemd's notify socket is runbroker's: no child may answer for it
        if options["debug"]:
            env["BROKER_LOG_TEXT"] = "1"
            settings.BROKER_LOG_TEXT = True
            logging.getLogger("broker").setLevel(logging.INFO)
            log.warning("DEBUG MODE: message text is written to the log. Do not run a public bot like this.")
        recovered = broker_recover()
        if recovered:
            self.say(f"Re-running {recovered} invocation(s) interrupted by the last stop.")
        supervisor = Supervisor(self._children(options, env), cwd=str(settings.BASE_DIR))
        process_source_register(lambda: [Role(spec.role, spec.queue, pid) for spec, pid in supervisor.running()])
        # Every runbroker sweeps, with or without its own worker: a worker killed mid-task
        # anywhere loses its invocation until a sweep sends it again.
        interval = settings.BOT_CONFIG.recovery.sweep_interval_seconds
        sweeper = Periodic("recovery sweep", recovery_sweep_tick, interval=interval)
        # Content past its retention period is erased in batches (docs/privacy.md).
        retention = settings.BOT_CONFIG.retention
        purger = Periodic("retention purge", retention_purge_tick, interval=retention.interval_seconds)
        # The dashboard's hourly counts (broker.activity, docs/operations.md "The dashboard").
        rollup = Periodic("activity rollup", activity_rollup_tick, interval=options["rollup_interval"])
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - only for display
        self.say(f"Admin:           http://{shown}:{port}/{settings.ADMIN_PATH}")
        where = "$BRIDGE_TOKEN" if os.environ.get("BRIDGE_TOKEN") else str(settings.DATA_DIR / "bridge_token")
        self.say(f"Bridge endpoint: ws://{shown}:{port}/ws/bridge/ (Authorization: Bearer <token in {where}>)")
        self.stdout.flush()
        config = uvicorn.Config(
            "sessionbot.asgi:application",
            host=host,
            port=port,
            http=header_timeout_protocol(settings.HTTP_HEADER_TIMEOUT),
            ws_max_size=MAX_FRAME_BYTES,
            limit_concurrency=settings.HTTP_MAX_CONNECTIONS,
            # Client address and scheme from X-Forwarded-* only when a trusted proxy sent them.
            proxy_headers=bool(settings.TRUSTED_PROXIES),
            forwarded_allow_ips=settings.TRUSTED_PROXIES,
            # At a stop, requests still running after this long are cut: a slow client cannot hold a restart.
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            lifespan="off",
            log_config=None,
            access_log=False,
        )
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _ignore_signal)
        # The server probes itself and speaks systemd's notify protocol when NOTIFY_SOCKET is set.
        prober = SelfProbe(
            host="127.0.0.1" if host in ("0.0.0.0", "::") else host,  # noqa: S104 - where to reach ourselves
            port=port,
            notifier=Notifier.from_environ(),
            watchdog=watchdog_interval(os.environ, pid=os.getpid()),
            readyz=options["watchdog_readyz"],
        )
        supervisor.start()
        sweeper.start()
        purger.start()
        rollup.start()
        prober.start()
        try:
            uvicorn.Server(config).run()
        finally:
            prober.stop()
            self.say("Stopping the worker and the bridge…")
            sweeper.stop()
            purger.stop()
            rollup.stop()
            supervisor.stop()
            self.say("Stopped.")

    def _children(self, options: dict[str, Any], env: dict[str, str]) -> list[ChildSpec]:
        children = []
        if not options["no_worker"]:
            for queue in queues_parse(options["queues"]):
                concurrency = options["workers"] if queue == DEFAULT_QUEUE else options["queue_workers"]
                children.append(worker_child(queue=queue, concurrency=concurrency, env=env))
        if options["no_bridge"]:
            pass
        elif "runbridge" in get_commands():
            host = "127.0.0.1" if options["host"] in ("0.0.0.0", "::") else options["host"]  # noqa: S104
            url = f"ws://{host}:{options['port']}/ws/bridge/"
            argv = [sys.executable, str(settings.BASE_DIR / "manage.py"), "runbridge", "--broker-url", url]
            children.append(ChildSpec("bridge", argv, env, role="bridge"))
        else:
            log.warning("no bundled bridge is installed; connect an external bridge to the endpoint")
        return children


def queues_parse(text: str) -> list[str]:
    """``llm, default`` → ``["llm", "default"]``: each name once, in the order given."""
    names = [name.strip() for name in text.split(",")]
    return list(dict.fromkeys(name for name in names if name)) or [DEFAULT_QUEUE]


def worker_child(*, queue: str, concurrency: int, env: dict[str, str]) -> ChildSpec:
    """A Celery worker serving ``queue`` alone (``default``: Celery's default queue)."""
    # With LOG_FORMAT=json, no banner: every line of the output is a JSON object.
    quiet = ["--quiet"] if settings.LOG_FORMAT == "json" else []
    argv = [sys.executable, "-m", "celery", "-A", "sessionbot", *quiet, "worker", "--pool=threads"]
    argv += [f"--concurrency={concurrency}", f"--loglevel={settings.LOG_LEVEL}"]
    argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    if queue == DEFAULT_QUEUE:
        return ChildSpec("Celery worker", argv, env, role="worker", queue=DEFAULT_QUEUE)
    # A node name of its own: two workers of one machine must not share one.
    argv += ["-Q", queue, "-n", f"{queue}@%h"]
    return ChildSpec(f"Celery worker ({queue})", argv, env, role="worker", queue=queue)
