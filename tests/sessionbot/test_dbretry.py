"""A connection that broke between calls costs one retry on the hot paths, not a failed call."""

from __future__ import annotations

import psycopg
import pytest
from django.db import OperationalError, connection

from plugins.models import BotUser
from sessionbot.dbretry import once_more_on_lost_connection
from tests.thebot import the_bot

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="runs on PostgreSQL (set DATABASE_URL): SQLite connections do not drop"
)


def kill_our_connection() -> None:
    """Terminate this test's database session from another one, as a database restart would."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def count_users() -> int:
    return BotUser.objects.count()


def test_a_call_on_a_connection_that_broke_runs_again_on_a_new_one(transactional_db: None) -> None:
    BotUser.objects.create(bot=the_bot(), session_id="05" + "ab" * 32)
    kill_our_connection()
    with pytest.raises(OperationalError):
        count_users()  # without the retry: the call fails
    connection.close()
    kill_our_connection()
    assert once_more_on_lost_connection(count_users) == 1


def test_an_error_on_a_healthy_connection_is_not_retried(transactional_db: None) -> None:
    calls = []

    def broken_query() -> None:
        calls.append(1)
        with connection.cursor() as cursor:
            cursor.execute("SELECT no_such_column FROM plugins_botuser")

    with pytest.raises(Exception, match="no_such_column"):
        once_more_on_lost_connection(broken_query)
    assert calls == [1]
