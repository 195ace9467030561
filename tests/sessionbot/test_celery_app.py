"""The Celery app takes the ``CELERY_*`` Django settings under Celery's own names."""

from __future__ import annotations

import uuid

import pytest
import redis
from celery.app.defaults import SETTING_KEYS
from django.conf import settings

from sessionbot.celery import app


def test_every_celery_setting_reaches_celery_and_none_is_taken_for_a_deprecated_one() -> None:
    names = [name for name in dir(settings) if name.startswith("CELERY_")]
    known = {name: name.removeprefix("CELERY_").lower() for name in names}
    known = {name: key for name, key in known.items() if key in SETTING_KEYS}
    assert {"CELERY_TASK_ACKS_LATE", "CELERY_ACCEPT_CONTENT", "CELERY_BROKER_URL"} <= set(known)
    for name, key in known.items():
        assert app.conf[key] == getattr(settings, name), name
    # The worker warned at every start that CELERY_ACCEPT_CONTENT and two others were
    # deprecated pre-4.0 names (celery#6366); they are the namespaced new ones.
    assert app.conf.deprecated_settings == set()
    assert not app.conf.maybe_warn_deprecated_settings()  # type: ignore[func-returns-value]


def test_the_django_fixup_still_keeps_database_connections_between_tasks() -> None:
    assert app.conf.get("CELERY_DB_REUSE_MAX") == settings.CELERY_DB_REUSE_MAX


def test_on_redis_a_task_taken_from_the_queue_is_not_kept_there() -> None:
    # The database is the record of unfinished work (the recovery sweep sends it again);
    # kombu's acknowledgement emulation filed every delivered task in Redis and removed it
    # afterwards: two more round trips per task, for a copy it gave back after an hour.
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("runs with Redis as the Celery broker (set REDIS_URL)")
    server = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    server.delete("unacked", "unacked_index")
    with app.connection_for_read() as conn:
        queue = conn.SimpleQueue(f"sessionbot-test-{uuid.uuid4().hex}")
        try:
            queue.put({"task": "held"})
            held = queue.get(timeout=5)
            assert held.payload == {"task": "held"}
            assert not server.exists("unacked", "unacked_index")  # not acknowledged, yet not filed
            held.ack()
        finally:
            queue.queue.delete()
            queue.close()
