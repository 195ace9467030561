"""``writes_batched``: a write-only transaction sent as one query on PostgreSQL.

Runs on SQLite (an ordinary atomic block) and, in CI's second pass, on PostgreSQL, where
the statements are gathered and sent together when the block ends.
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from broker.models import OutboundMessage
from plugins.models import BotUser
from sessionbot.dbbatch import ReadInWriteBatch, writes_batched
from tests.roundtrips import queries_sent
from tests.thebot import the_bot

USER = "05" + "ab" * 32


def rows(*refs: str) -> list[OutboundMessage]:
    return [
        OutboundMessage(bot=the_bot(), ref=ref, to=USER, text=f"text of {ref} with 100% of its % signs") for ref in refs
    ]


@pytest.mark.django_db(transaction=True)
def test_the_writes_commit_together_and_on_commit_runs_after() -> None:
    user = BotUser.objects.create(bot=the_bot(), session_id=USER)
    seen: list[int] = []
    with writes_batched():
        BotUser.objects.filter(pk=user.pk).update(display_name="Ada")
        OutboundMessage.objects.bulk_create(rows("w-1", "w-2"), ignore_conflicts=True)
        transaction.on_commit(lambda: seen.append(OutboundMessage.objects.filter(ref__startswith="w-").count()))
    assert seen == [2]  # the callback ran after the commit, and saw the rows
    assert BotUser.objects.get(pk=user.pk).display_name == "Ada"
    texts = sorted(OutboundMessage.objects.values_list("text", flat=True))
    assert texts == ["text of w-1 with 100% of its % signs", "text of w-2 with 100% of its % signs"]


@pytest.mark.django_db(transaction=True)
def test_a_failing_statement_rolls_back_the_earlier_ones_and_the_connection_works_on() -> None:
    user = BotUser.objects.create(bot=the_bot(), session_id=USER)
    OutboundMessage.objects.bulk_create(rows("dup", "other"))
    seen: list[str] = []

    def clashing() -> None:
        with writes_batched():
            BotUser.objects.filter(pk=user.pk).update(display_name="Ada")
            OutboundMessage.objects.bulk_create(rows("new"), ignore_conflicts=True)
            OutboundMessage.objects.filter(ref="other").update(ref="dup")  # the ref is unique
            transaction.on_commit(lambda: seen.append("committed"))

    with pytest.raises(IntegrityError):
        clashing()
    assert seen == []
    assert BotUser.objects.get(pk=user.pk).display_name == ""
    assert sorted(OutboundMessage.objects.values_list("ref", flat=True)) == ["dup", "other"]
    with transaction.atomic():  # the connection is back to normal
        BotUser.objects.filter(pk=user.pk).update(display_name="Grace")
    assert BotUser.objects.get(pk=user.pk).display_name == "Grace"


@pytest.mark.django_db(transaction=True)
def test_a_read_inside_the_batch_is_refused_and_nothing_is_written() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("statements are gathered on PostgreSQL only (set DATABASE_URL); SQLite runs them at once")

    def reading() -> None:
        with writes_batched():
            OutboundMessage.objects.bulk_create(rows("before-read"), ignore_conflicts=True)
            BotUser.objects.filter(session_id=USER).exists()

    with pytest.raises(ReadInWriteBatch):
        reading()
    assert not OutboundMessage.objects.exists()


def _synchronous() -> int:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous")
        return int(cursor.fetchone()[0])


def _sqlite_commits_synced() -> tuple[bool, bool]:
    normal, full = 1, 2
    assert _synchronous() == normal  # settings.py: safe from a crashed process, fast
    with writes_batched(relaxed=False):
        BotUser.objects.filter(session_id=USER).update(display_name="Ada")
        promise = _synchronous() == full  # the ack's commit survives a crashed machine too
    assert _synchronous() == normal
    with writes_batched():
        BotUser.objects.filter(session_id=USER).update(language="es")
        relaxed = _synchronous() == full
    return promise, relaxed


def _postgresql_commits_synced() -> tuple[bool, bool]:
    with queries_sent() as promised, writes_batched(relaxed=False):
        BotUser.objects.filter(session_id=USER).update(display_name="Ada")
    with queries_sent() as relaxed, writes_batched():
        BotUser.objects.filter(session_id=USER).update(language="es")
    (promise_sql,), (relaxed_sql,) = [query.sql for query in promised], [query.sql for query in relaxed]
    return "synchronous_commit TO OFF" not in promise_sql, "synchronous_commit TO OFF" not in relaxed_sql


@pytest.mark.django_db(transaction=True)
def test_a_commit_that_is_a_promise_waits_for_the_disk_and_the_others_do_not() -> None:
    # SQLite's connections commit without syncing their log (synchronous=NORMAL): the
    # accept's commit, which the ack promises is on disk, syncs it. PostgreSQL's relaxed
    # commits skip the wait for the flush.
    BotUser.objects.create(bot=the_bot(), session_id=USER)
    synced = _sqlite_commits_synced() if connection.vendor == "sqlite" else _postgresql_commits_synced()
    assert synced == (True, False)
    assert BotUser.objects.filter(session_id=USER, display_name="Ada", language="es").exists()
