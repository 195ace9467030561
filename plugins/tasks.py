"""Celery tasks of the plugin runtime: thin; they call one service each.

JSON arguments only (primitive ids), late acknowledgement with rejection on worker loss
where the broker acknowledges (AMQP; Redis and the filesystem queue hand a task out once:
the recovery sweep sends a lost one again), and a time limit (settings).
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_ready, worker_shutdown

from plugins.forgetting import plugins_forget
from plugins.health import health_checks_run
from plugins.installjobs import install_job_run
from plugins.lifecycle import plugin_reload_worker
from plugins.queues import Heartbeat, worker_name
from plugins.services import invocation_execute
from sessionbot.dbretry import once_more_on_lost_connection


@shared_task(name="plugins.invocation_execute", acks_late=True, reject_on_worker_lost=True)
def invocation_execute_task(invocation_id: int) -> None:
    # A claim lost with a broken connection is made again; a finished invocation never runs twice.
    once_more_on_lost_connection(invocation_execute, invocation_id=invocation_id)


@shared_task(name="plugins.plugins_forget", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def plugins_forget_task(bot_id: int, session_id: str) -> int:
    return plugins_forget(bot_id=bot_id, session_id=session_id)


@shared_task(name="plugins.health_checks_run", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def health_checks_run_task(force: bool = False) -> int:
    return health_checks_run(force=force)


_heartbeat: list[Heartbeat] = []


@worker_ready.connect
def _queues_record(sender: Any, **_: Any) -> None:
    """Every worker, ``runbroker``'s or a bare ``celery worker -Q llm``, says which queues it serves."""
    queues = list(sender.app.amqp.queues.consume_from)
    beat = Heartbeat(worker=worker_name(str(sender.hostname)), queues=queues)
    beat.start()
    _heartbeat.append(beat)


@worker_shutdown.connect
def _queues_forget(**_: Any) -> None:
    while _heartbeat:
        _heartbeat.pop().stop()


@shared_task(name="plugins.install_job_run", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def install_job_run_task(job_id: int) -> None:
    install_job_run(job_id=job_id)


# Its caller waits for the answer (the result), so it is kept; not sent again after a lost
# worker: the caller has stopped waiting by then, and the operator can reload again.
@shared_task(name="plugins.plugin_reload", ignore_result=False, time_limit=600, soft_time_limit=570)
def plugin_reload_task(plugin_id: int, language: str) -> dict[str, object]:
    return plugin_reload_worker(plugin_id=plugin_id, language=language)
