"""The outbox's figures for ``botstatus`` and ``/metrics``: right, and read through the indexes."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from broker.status import outbox_summary
from tests.sessionbot.botrows import bot_build, send_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot():
    return bot_build()


def test_each_status_is_counted_and_the_oldest_pending_send_is_aged(bot) -> None:
    for status, ago in [
        ("pending", timedelta(minutes=3)),
        ("pending", timedelta(seconds=30)),
        ("failed", timedelta(minutes=10)),
        ("failed", timedelta(hours=5)),
        ("failed", timedelta(days=3)),
        ("sent", timedelta(hours=1)),
        ("sent", timedelta(days=40)),
        ("sent", timedelta(0)),
        ("sending", timedelta(0)),
    ]:
        send_add(bot, status, ago=ago)
    found = outbox_summary(now=bot.now, since=bot.now - timedelta(hours=1))
    assert (found.pending, found.failed_recent, found.failed_total, found.sent_total) == (2, 1, 3, 3)
    assert found.oldest_pending_seconds == pytest.approx(180, abs=1)


def test_an_empty_outbox_has_no_oldest_send(bot) -> None:
    found = outbox_summary(now=bot.now, since=bot.now - timedelta(hours=1))
    assert (found.pending, found.oldest_pending_seconds, found.failed_total, found.sent_total) == (0, None, 0, 0)


def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _plan_nodes(child))]


def test_no_query_reads_the_whole_outbox(bot) -> None:
    for status in ("pending", "failed", "sent", "sent"):
        send_add(bot, status)
    queries: list[tuple[str, Any]] = []

    def kept(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        queries.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(kept):
        outbox_summary(now=bot.now, since=bot.now - timedelta(hours=1))
    assert queries
    with connection.cursor() as cursor:
        for sql, params in queries:
            if connection.vendor == "sqlite":
                cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
                steps = [row[-1] for row in cursor.fetchall() if "broker_outboundmessage" in row[-1]]
                assert steps, sql
                assert all(step.startswith("SEARCH") and "INDEX" in step for step in steps), (sql, steps)
            else:
                # A few rows: the planner would read them all anyway unless told a scan costs more.
                cursor.execute("SET LOCAL enable_seqscan = off")
                cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
                plan = cursor.fetchone()[0]
                plan = json.loads(plan) if isinstance(plan, str) else plan
                nodes = [n for n in _plan_nodes(plan[0]["Plan"]) if n.get("Relation Name") == "broker_outboundmessage"]
                assert nodes, sql
                for node in nodes:
                    assert "Index Cond" in node or "Recheck Cond" in node, (sql, node)
