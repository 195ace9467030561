# ruff: noqa: RUF001 - full-width punctuation is correct in Chinese text
"""Queues of their own: the entry's ``queue``, workers' heartbeats, "unavailable" at once."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from pydantic import ValidationError

from broker.management.commands.runbroker import Command, queues_parse, worker_child
from broker.models import InboundMessage, OutboundMessage
from broker.recovery import broker_recover, recovery_sweep
from plugins.manifest import Limits, PluginEntry
from plugins.models import Invocation, Plugin, PluginVersion, QueueWorker
from plugins.queues import STALE_SECONDS, Heartbeat, queue_served, queue_served_forget
from tests.broker.servers import runbroker
from tests.conftest import wait_for
from tests.plugins.conftest import enqueue, install, replies
from tests.thebot import the_bot

pytestmark = pytest.mark.django_db(transaction=True)
UNAVAILABLE = "Sorry, /good is unavailable right now. Please try again later."


@pytest.fixture(autouse=True)
def _fresh_answers() -> None:
    queue_served_forget()


def entry(**fields: object) -> PluginEntry:
    return PluginEntry.model_validate({"name": "llm", "version": "1", "entrypoint": "m:C", **fields})


@pytest.mark.parametrize(
    ("given", "stored"), [("llm", "llm"), ("gpu.large-1", "gpu.large-1"), ("", ""), ("default", "")]
)
def test_an_entry_names_its_queue(given, stored) -> None:
    assert entry(queue=given).queue == stored


@pytest.mark.parametrize("bad", ["-llm", "llm queue", "a" * 65, "llm/1"])
def test_a_queue_name_that_celery_could_not_take_is_refused(bad) -> None:
    with pytest.raises(ValidationError, match="queue"):
        entry(queue=bad)


def test_limits_go_up_to_fifteen_minutes() -> None:
    assert Limits(timeout_seconds=900).timeout_seconds == 900
    with pytest.raises(ValidationError):
        Limits(timeout_seconds=901)


def test_importplugins_puts_the_plugin_on_its_queue(tmp_path: Path, settings) -> None:
    root = tmp_path / "root"
    root.mkdir()
    settings.PLUGIN_ROOTS = [root]
    (root / "tq_slow.py").write_text(
        "from plugins.api import Plugin, command\n\n\nclass Slow(Plugin):\n"
        "    @command('think')\n    def think(self, ctx):\n        return 'hm'\n"
    )
    path = tmp_path / "plugins.yaml"
    yaml = """
    plugins:
      - name: thinker
        version: "1.0.0"
        entrypoint: tq_slow:Slow
        queue: llm
        limits: {timeout_seconds: 900}
    """
    path.write_text(textwrap.dedent(yaml))
    call_command("importplugins", str(path), stdout=StringIO(), stderr=StringIO())
    version = PluginVersion.objects.get(plugin__name="thinker")
    assert (version.queue, version.timeout_seconds) == ("llm", 900)


def test_a_queue_is_served_while_a_worker_beats_on_it() -> None:
    assert queue_served(queue="")  # the default queue: runbroker's own workers
    assert not queue_served(queue="llm")
    beat = Heartbeat(worker="gpu-box/1", queues=["llm", "celery"], interval=0.05)
    beat.start()
    try:
        assert wait_for(lambda: QueueWorker.objects.filter(worker="gpu-box/1").count() == 2)
        first = QueueWorker.objects.get(queue="llm").seen_at
        assert wait_for(lambda: QueueWorker.objects.get(queue="llm").seen_at > first)  # it beats
        queue_served_forget()
        assert queue_served(queue="llm")
    finally:
        beat.stop()
    assert not QueueWorker.objects.exists()  # a worker that stops says so


def test_a_worker_not_seen_lately_serves_nothing() -> None:
    stale = timezone.now() - timedelta(seconds=STALE_SECONDS + 1)
    QueueWorker.objects.create(queue="llm", worker="gone/1", seen_at=stale)
    assert not queue_served(queue="llm")


def test_a_command_for_a_queue_nobody_serves_is_answered_unavailable_at_once(plugin_roots) -> None:
    install("good", "fx_good:Good", ["good"], queue="llm")
    inv = enqueue("/good 1 hi")
    inv.refresh_from_db()
    assert inv.status == Invocation.Status.FAILED
    assert replies(inv) == UNAVAILABLE
    assert "llm" in inv.error
    # The plugin itself is well: it is not marked as failing to load.
    assert Plugin.objects.get(name="good").load_state != "error"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("es", "Lo siento, /good no está disponible ahora mismo. Inténtalo más tarde."),
        ("zh-hans", "抱歉，/good 暂时不可用。请稍后再试。"),
    ],
)
def test_the_unavailable_answer_speaks_the_users_language(plugin_roots, language, expected) -> None:
    install("good", "fx_good:Good", ["good"], queue="llm")
    inv = enqueue("/good 1 hi", language=language)
    assert replies(inv) == expected


def routed(text: str, mid: str) -> Invocation:
    """A routed message's invocation sent to its queue, as the broker makes it."""
    inv = enqueue(text)
    InboundMessage.objects.create(
        bot=the_bot(),  # the sweep and the restart look after routed messages
        message_id=mid,
        sender=inv.conversation,
        conversation=inv.conversation,
        conversation_type="private",
        timestamp=1,
        text=text,
        status="routed",
        invocation=inv,
    )
    return inv


def test_an_invocation_left_queued_on_a_queue_whose_worker_went_away_is_answered(plugin_roots) -> None:
    install("good", "fx_good:Good", ["good"], queue="llm")
    QueueWorker.objects.create(queue="llm", worker="box/1")
    inv = routed("/good 1 hi", "q1")  # sent to the llm queue; its worker dies before taking it
    QueueWorker.objects.all().delete()
    queue_served_forget()
    assert Invocation.objects.get(pk=inv.pk).status == Invocation.Status.QUEUED
    recovery_sweep(now=timezone.now() + timedelta(minutes=5))
    inv.refresh_from_db()
    assert inv.status == Invocation.Status.FAILED
    assert OutboundMessage.objects.get(invocation=inv).text == UNAVAILABLE


def test_runbroker_starts_a_worker_per_queue() -> None:
    assert queues_parse("llm, default,llm") == ["llm", "default"]
    assert queues_parse("") == ["default"]
    default = worker_child(queue="default", concurrency=4, env={})
    assert "-Q" not in default.argv
    assert "--concurrency=4" in default.argv
    llm = worker_child(queue="llm", concurrency=2, env={})
    assert llm.argv[llm.argv.index("-Q") + 1] == "llm"
    assert "--concurrency=2" in llm.argv
    parser = Command().create_parser("manage.py", "runbroker")
    assert parser.parse_args([]).queues == "default"
    assert parser.parse_args(["--queues", "llm,default"]).queues == "llm,default"


def test_a_restart_sends_its_queued_invocations_again_before_its_workers_are_up(plugin_roots) -> None:
    install("good", "fx_good:Good", ["good"], queue="llm")
    QueueWorker.objects.create(queue="llm", worker="box/1")
    inv = routed("/good 1 hi", "q2")
    QueueWorker.objects.all().delete()  # the worker stopped with runbroker
    queue_served_forget()
    assert broker_recover() == 1
    assert Invocation.objects.get(pk=inv.pk).status == Invocation.Status.QUEUED  # not answered yet


@pytest.mark.slow
def test_runbroker_queues_start_workers_that_say_which_queues_they_serve() -> None:
    with runbroker("--queues", "llm,default", "--workers", "1", "--queue-workers", "1"):
        assert wait_for(
            lambda: {"llm", "celery"} <= set(QueueWorker.objects.values_list("queue", flat=True)), timeout=60
        )
        by_queue = dict(QueueWorker.objects.values_list("queue", "worker"))
        assert by_queue["llm"] != by_queue["celery"]  # a worker of its own per queue
        queue_served_forget()
        assert queue_served(queue="llm")
    # Stopped: the workers took their records with them.
    assert wait_for(lambda: not QueueWorker.objects.exists(), timeout=30)
