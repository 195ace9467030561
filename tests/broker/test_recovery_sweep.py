"""The recovery sweep: invocations whose worker died are answered once, by a real worker."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from broker.models import OutboundMessage
from broker.recovery import recovery_sweep
from plugins.models import Invocation
from plugins.services import invocation_execute
from tests.broker.conftest import stored
from tests.broker.servers import runbroker
from tests.conftest import wait_for, worker_env

pytestmark = pytest.mark.slow
LATER = timedelta(minutes=5)  # far past every default threshold


def replies(inv: Invocation) -> list[str]:
    return list(OutboundMessage.objects.filter(invocation=inv).values_list("text", flat=True))


def test_a_queued_invocation_whose_task_was_lost_is_answered_once(builtins, celery_worker) -> None:
    inv = stored(builtins["ping"], "lost-queued")
    assert recovery_sweep() == 0, "a fresh invocation is still waiting its turn"
    # Two processes sweeping at once (or two sweeps in a row) send it once.
    assert recovery_sweep(now=timezone.now() + LATER) + recovery_sweep(now=timezone.now() + LATER) == 1
    assert wait_for(lambda: replies(inv) == ["pong"], timeout=60)
    inv.refresh_from_db()
    assert (inv.status, inv.attempts) == ("ok", 1)
    assert recovery_sweep(now=timezone.now() + 2 * LATER) == 0, "finished work is never sent again"
    assert replies(inv) == ["pong"]


def test_a_running_invocation_whose_worker_died_runs_again(builtins, celery_worker) -> None:
    long_ago = timezone.now() - timedelta(hours=1)
    inv = stored(builtins["ping"], "lost-running", status="running", started_at=long_ago, attempts=1)
    assert recovery_sweep() == 1
    assert wait_for(lambda: replies(inv) == ["pong"], timeout=60)
    inv.refresh_from_db()
    assert (inv.status, inv.attempts) == ("ok", 2)


def test_after_the_last_attempt_the_user_is_told_it_failed_once(builtins, celery_worker) -> None:
    long_ago = timezone.now() - timedelta(hours=1)
    inv = stored(builtins["ping"], "poison", status="running", started_at=long_ago, attempts=3)
    assert recovery_sweep() == 1
    assert wait_for(lambda: Invocation.objects.get(pk=inv.pk).status == "crashed", timeout=60)
    assert recovery_sweep(now=timezone.now() + LATER) == 0
    (text,) = replies(inv)
    assert text == "Sorry, /ping stopped unexpectedly. Please try again."


def test_a_running_invocation_with_a_live_worker_is_left_alone(builtins) -> None:
    inv = stored(builtins["ping"], "busy", status="running", started_at=timezone.now(), attempts=1)
    assert recovery_sweep() == 0
    invocation_execute(invocation_id=inv.pk)  # a copy delivered while its worker still runs it
    inv.refresh_from_db()
    assert (inv.status, inv.attempts) == ("running", 1)
    assert replies(inv) == []


def test_runbroker_without_a_worker_sweeps_for_workers_elsewhere(builtins, celery_worker, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("recovery: {sweep_interval_seconds: 0.5, queued_after_seconds: 60}\n")
    env = {**worker_env(), "SESSIONBOT_CONFIG": str(config)}
    with runbroker("--no-worker", env=env):
        # Lost after runbroker started: only the sweep, not the start-up recovery, finds it.
        inv = stored(builtins["ping"], "lost-elsewhere", queued_at=timezone.now() - timedelta(hours=1))
        assert wait_for(lambda: replies(inv) == ["pong"], timeout=60)
    assert Invocation.objects.get(pk=inv.pk).status == "ok"
