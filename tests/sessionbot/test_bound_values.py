"""Values travel to PostgreSQL as bound parameters, never inside a statement's text.

PostgreSQL logs the text of a statement that fails (``log_min_error_statement``, ``error``
by default) and shows the running one to anyone who may read ``pg_stat_activity``: a
value inlined by the client (message text, a Session ID) would be there too.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import IntegrityError, connection

from broker.models import OutboundMessage
from plugins.models import BotUser
from sessionbot.dbbatch import reads_together, writes_batched
from tests.thebot import the_bot

pytestmark = pytest.mark.django_db(transaction=True)

USER = "05" + "ab" * 32


@pytest.fixture(autouse=True)
def _postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("runs on PostgreSQL (set DATABASE_URL)")


def _server_log() -> Path:
    """The file PostgreSQL logs to, when this machine can read it (else the test is skipped)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_current_logfile(), current_setting('data_directory'), current_setting('server_version_num')"
        )
        current, data_dir, version = cursor.fetchone()
    candidates = [os.environ.get("POSTGRES_LOG_FILE", "")]
    candidates += [str(Path(data_dir) / current)] if current else []
    candidates += [f"/var/log/postgresql/postgresql-{int(version) // 10000}-main.log"]
    for candidate in filter(None, candidates):
        path = Path(candidate)
        if path.is_file() and os.access(path, os.R_OK):
            return path
    pytest.skip("PostgreSQL's log is not readable here (set POSTGRES_LOG_FILE to its path)")


def _logged_since(log: Path, offset: int, pid: int, wanted: str) -> str:
    """What the server logged after ``offset``: the lines of backend ``pid`` when the lines
    carry it (``%p`` in ``log_line_prefix``), waiting until ``wanted`` shows."""
    deadline = time.monotonic() + 5
    while True:
        with log.open("rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", "replace")
        ours = [line for line in text.splitlines() if f"[{pid}]" in line] or text.splitlines()
        logged = "\n".join(ours)
        if wanted in logged or time.monotonic() > deadline:
            return logged
        time.sleep(0.1)


def _clashing_batch(marker: str) -> None:
    with writes_batched(relaxed=False):
        stored_first = OutboundMessage(bot=the_bot(), ref="new", to=USER, text=f"{marker} stored first")
        OutboundMessage.objects.bulk_create([stored_first], ignore_conflicts=True)
        OutboundMessage.objects.filter(ref="other").update(ref="taken", text=f"{marker} clashing")  # ref is unique


def test_a_batch_that_fails_inside_postgresql_leaves_no_message_text_in_its_log() -> None:
    marker = f"marker-{uuid.uuid4().hex}"
    OutboundMessage.objects.bulk_create(
        [
            OutboundMessage(bot=the_bot(), ref="taken", to=USER, text="a"),
            OutboundMessage(bot=the_bot(), ref="other", to=USER, text="b"),
        ]
    )
    log = _server_log()
    with connection.cursor() as cursor:
        cursor.execute("SET log_min_error_statement = 'error'")  # the default, made sure of
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    offset = log.stat().st_size
    try:
        with pytest.raises(IntegrityError):
            _clashing_batch(marker)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET log_min_error_statement")
    logged = _logged_since(log, offset, pid, "STATEMENT:")
    assert "duplicate key value violates unique constraint" in logged  # the failure was logged
    assert "STATEMENT:" in logged  # with its statement
    assert marker not in logged
    assert USER not in logged


def _seen_by_the_server(pid: int) -> str:
    """The text of backend ``pid``'s last statement, as ``pg_stat_activity`` shows it."""
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
    ) as other:
        row = other.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
    assert row is not None
    return str(row[0])


def _pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def test_an_orm_query_shows_placeholders_not_values_to_the_server() -> None:
    marker = f"marker-{uuid.uuid4().hex}"
    pid = _pid()
    assert not BotUser.objects.filter(display_name=marker, session_id=USER).exists()
    seen = _seen_by_the_server(pid)
    assert "$1" in seen
    assert marker not in seen
    assert USER not in seen


def test_reads_sent_together_show_placeholders_not_values_to_the_server() -> None:
    marker = f"marker-{uuid.uuid4().hex}"
    pid = _pid()
    table = connection.ops.quote_name(OutboundMessage._meta.db_table)
    sql = f"SELECT count(*) FROM {table} WHERE text = %s"
    assert reads_together([(sql, [marker]), (sql, [USER])]) == [[(0,)], [(0,)]]
    seen = _seen_by_the_server(pid)
    assert "$1" in seen
    assert marker not in seen
    assert USER not in seen
