"""Time the admin's dashboard over a million invocations: ``python -m bench.dashboard``.

Seeds ``--invocations`` invocations spread evenly over the last ``--days`` days, across
``--bots`` bots and ``--plugins`` plugins (3 % faults), each with its message and its
reply (confirmed sent 0.1 to 3 s later), plus one message in 20 that no plugin handled.
Rows go in with executemany (SQLite) or COPY (PostgreSQL), not the ORM. Then the hourly
rollup counts the last week, as runbroker's first tick does, and the dashboard page is
loaded through Django's test client, logged in as a superuser: once as the first load of
the process, ``--loads`` times in a row, and ``--loads`` times each right after a rollup
tick; then the first load of ``--processes`` fresh processes, each started as the web server's
is (importing ``sessionbot.asgi``), one after the other. The
median, p95 and max of each are printed, with the query count of a load.

``--db sqlite`` uses a fresh file in a temporary folder; ``--db postgres`` the database
of ``BENCH_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/sessionbot_dashbench``),
created if missing and emptied first.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sessionbot_dashbench")
USER = "05" + "ab" * 32
BATCH = 20_000


def _env(db: str) -> None:
    folder = tempfile.mkdtemp(prefix="bench-dashboard-")
    os.environ.update(DATA_DIR=folder, DJANGO_SETTINGS_MODULE="sessionbot.settings")
    os.environ.setdefault("SECRET_KEY", "bench-" + "k" * 40)
    os.environ.pop("REDIS_URL", None)
    if db == "sqlite":
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
        return
    os.environ["DATABASE_URL"] = PG_URL
    import psycopg

    base, _, name = PG_URL.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _insert(table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            names = ", ".join(f'"{c}"' for c in columns)
            with cursor.cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join(["%s"] * len(columns))
        names = ", ".join(f'"{c}"' for c in columns)
        cursor.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)


def seed(*, invocations: int, days: float, bots: int, plugins: int, now: datetime) -> None:
    """Bots, plugins and ``invocations`` exchanges (message, invocation, reply) over ``days``."""
    from django.db import connection, transaction

    from bots.models import Bot
    from plugins.models import Plugin, PluginVersion

    def at(value: datetime) -> Any:
        return connection.ops.adapt_datetimefield_value(value) if connection.vendor == "sqlite" else value

    bot_ids = [Bot.objects.create(name=f"bot{i}", session_id="05" + f"{i + 1:064x}").pk for i in range(bots)]
    versions: list[int] = []
    for i in range(plugins):
        plugin = Plugin.objects.create(name=f"plugin{i}")
        made = PluginVersion.objects.create(plugin=plugin, version="1.0.0", entrypoint=f"p{i}:P")
        plugin.active_version = made
        plugin.save()
        versions.append(made.pk)
    rng = random.Random(16)
    span = timedelta(days=days).total_seconds()
    inv_cols = ["id", "key", "bot_id", "plugin_version_id", "command", "arguments", "conversation"]
    inv_cols += ["conversation_type", "language", "attachments", "status", "queued_at", "finished_at"]
    inv_cols += ["duration_ms", "attempts", "error"]
    in_cols = ["id", "bot_id", "message_id", "sender", "conversation", "conversation_type", "timestamp", "text"]
    in_cols += ["author_name", "attachments", "status", "invocation_id", "received_at"]
    out_cols = ["id", "ref", "bot_id", "to", "text", "attachments", "invocation_id", "part", "parts", "status"]
    out_cols += ["created_at", "next_attempt_at", "attempts", "sent_at", "session_hash", "last_error"]
    message_id = 0
    for start in range(0, invocations, BATCH):
        inv_rows: list[tuple[Any, ...]] = []
        in_rows: list[tuple[Any, ...]] = []
        out_rows: list[tuple[Any, ...]] = []
        for n in range(start + 1, min(start + BATCH, invocations) + 1):
            when = now - timedelta(seconds=span * (1 - n / invocations))
            bot, version = bot_ids[n % bots], versions[n % plugins]
            roll = rng.random()
            status = "failed" if roll < 0.02 else "timeout" if roll < 0.03 else "ok"
            done = at(when + timedelta(seconds=0.05))
            inv_rows.append((n, f"k{n}", bot, version, "cmd", "", USER, "private", "", "[]", status, at(when), done))
            inv_rows[-1] += (50.0, 1, "ValueError: bench" if status != "ok" else "")
            message_id += 1
            in_rows.append((message_id, bot, f"m{message_id}", USER, USER, "private", 0, "", "", "[]", "routed", n))
            in_rows[-1] += (at(when),)
            if n % 20 == 0:
                message_id += 1
                in_rows.append((message_id, bot, f"m{message_id}", USER, USER, "private", 0, "", "", "[]", "ignored"))
                in_rows[-1] += (None, at(when))
            sent = when + timedelta(seconds=rng.uniform(0.1, 3.0))
            out = "sent" if sent < now else "pending"
            out_rows.append((n, f"{n}:1", bot, USER, "", "[]", n, 1, 1, out, at(when), at(when), 1))
            out_rows[-1] += (at(sent) if out == "sent" else None, "", "")
        with transaction.atomic():
            _insert("plugins_invocation", inv_cols, inv_rows)
            _insert("broker_inboundmessage", in_cols, in_rows)
            _insert("broker_outboundmessage", out_cols, out_rows)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in ("plugins_invocation", "broker_inboundmessage", "broker_outboundmessage"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
                cursor.execute(f"ANALYZE {table}")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _first_load(span: str) -> None:
    """In a process started by ``main`` (same environment, seeded database): print the first load's ms.

    The process starts as the web server's does, by importing the ASGI application."""
    import sessionbot.asgi  # noqa: F401

    # isort: split
    from django.contrib.auth.models import User
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username="bench"))
    started = time.perf_counter()
    response = client.get("/" + os.environ.get("ADMIN_PATH", "admin/"), {"range": span})
    assert response.status_code == 200, response.status_code
    print(f"{(time.perf_counter() - started) * 1000:.1f}")


def _summary(what: str, found: list[float]) -> None:
    found.sort()
    p95 = found[min(len(found) - 1, round(0.95 * (len(found) - 1)))]
    print(
        f"{what} over {len(found)} loads: median {statistics.median(found):.0f} ms, p95 {p95:.0f} ms, "
        f"max {found[-1]:.0f} ms",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--invocations", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--bots", type=int, default=3)
    parser.add_argument("--plugins", type=int, default=8)
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--processes", type=int, default=10, help="fresh processes whose first load is timed")
    parser.add_argument("--range", default="day", help="the charts' range: hour, day or week")
    parser.add_argument("--first-load", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first_load:
        _first_load(args.range)
        return
    _env(args.db)
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from broker.activity import activity_rollup

    call_command("migrate", verbosity=0)
    call_command("flush", "--noinput", verbosity=0)
    now = datetime.now(UTC)
    started = time.perf_counter()
    seed(invocations=args.invocations, days=args.days, bots=args.bots, plugins=args.plugins, now=now)
    seeded = time.perf_counter() - started
    started = time.perf_counter()
    activity_rollup(hours=7 * 24)
    rolled = time.perf_counter() - started
    admin = User.objects.create_superuser("bench", "bench@example.org", "bench-password-not-used")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(admin)
    url, params = "/" + os.environ.get("ADMIN_PATH", "admin/"), {"range": args.range}
    queries: list[str] = []

    def counted(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        queries.append(sql)
        return execute(sql, params, many, context)

    started = time.perf_counter()
    with connection.execute_wrapper(counted):
        first = client.get(url, params)
    cold = (time.perf_counter() - started) * 1000  # nothing read, imported lazily or compiled yet
    assert first.status_code == 200, first.status_code
    assert b"console-dashboard" in first.content
    times = []
    for _ in range(args.loads):
        started = time.perf_counter()
        response = client.get(url, params)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    # Right after each of runbroker's rollup ticks: the stored hours have just changed.
    from broker.activity import activity_rollup_tick

    tick_times = []
    for _ in range(args.loads):
        activity_rollup_tick()
        started = time.perf_counter()
        client.get(url, params)
        tick_times.append((time.perf_counter() - started) * 1000)
    print(
        f"database: {connection.vendor}; {args.invocations:,} invocations over {args.days:g} days, "
        f"{args.bots} bots, {args.plugins} plugins; charts: {args.range}"
    )
    print(
        f"seeded in {seeded:.1f} s; week's rollup in {rolled:.1f} s; {len(queries)} queries a load; "
        f"first load of the process {cold:.0f} ms"
    )
    _summary("dashboard load", times)
    _summary("load right after a rollup tick", tick_times)
    # The first load of fresh processes on the same database, one after the other.
    command = [sys.executable, "-m", "bench.dashboard", "--first-load", "--range", args.range]
    fresh_times = [float(subprocess.check_output(command, text=True)) for _ in range(args.processes)]
    _summary("first load of a fresh web process", fresh_times)


if __name__ == "__main__":
    main()
