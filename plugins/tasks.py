"""Celery tasks of the plugin runtime: thin; they call one service each."""

from __future__ import annotations

from celery import shared_task

from plugins.services import invocation_execute


@shared_task(name="plugins.invocation_execute", acks_late=True, reject_on_worker_lost=True)
def invocation_execute_task(invocation_id: int) -> None:
    invocation_execute(invocation_id=invocation_id)
