"""Finish what a crash interrupted: accepted messages whose invocation never finished."""

from __future__ import annotations

import logging

from django.db import transaction

from broker.dispatch import inbound_route
from broker.models import InboundMessage
from plugins.models import Invocation
from plugins.tasks import invocation_execute_task

log = logging.getLogger(__name__)


def broker_recover(*, bot_id: str = "") -> int:
    """Re-enqueue unfinished invocations of stored messages; return how many.

    Safe to repeat: the runtime never runs a finished invocation again, and the outbox
    keys every part by a stable ref, so a message is never answered twice.
    """
    for inbound in InboundMessage.objects.filter(status=InboundMessage.Status.ACCEPTED, invocation__isnull=True):
        with transaction.atomic():  # stored but never routed (not possible today; cheap to cover)
            inbound_route(inbound=inbound, bot_id=bot_id)
            inbound.save(update_fields=["status", "invocation"])
    pending = list(
        Invocation.objects.filter(
            status__in=[Invocation.Status.QUEUED, Invocation.Status.RUNNING], inbound_message__isnull=False
        ).values_list("pk", flat=True)
    )
    for pk in pending:
        invocation_execute_task.delay(pk)
    if pending:
        log.info("re-enqueued %d unfinished invocations after a restart", len(pending))
    return len(pending)
