"""Slow plugins: messages sent while a command works (``ctx.send``), and async handlers."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from broker.models import OutboundMessage
from plugins.api import Context, Plugin, PluginError, Reply
from plugins.loader import plugin_class_load
from plugins.models import Invocation
from plugins.services import invocation_execute
from plugins.testing import PluginRunner
from tests.plugins.conftest import FIXTURES, USER, ask, derive, install

SLOW = "fx_slow:Slow"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["inline", "host"])
def slow(request, plugin_roots) -> str:
    derive(install("slow", SLOW, [], isolation=request.param, timeout_seconds=30))
    return str(request.param)


def sent(inv: Invocation) -> list[tuple[str, bool]]:
    """What the invocation sent, in outbox order: text, and whether it quotes the message."""
    rows = OutboundMessage.objects.filter(invocation=inv).order_by("id")
    return [(row.text, row.reply_to is not None) for row in rows]


def test_a_command_s_messages_go_out_in_order_before_its_answer(slow) -> None:
    _, inv = ask("/steps 3")
    assert inv.status == Invocation.Status.OK
    texts = [text for text, _ in sent(inv)]
    assert texts == ["step 1 of 3", "step 2 of 3", "step 3 of 3", "all steps done"]


def test_an_async_handler_and_its_messages_work(slow) -> None:
    _, inv = ask("/asteps 2")
    assert inv.status == Invocation.Status.OK
    assert [text for text, _ in sent(inv)] == ["async step 1 of 2", "async step 2 of 2", "async done"]


def test_a_run_again_after_a_crash_sends_no_message_twice(slow) -> None:
    _, inv = ask("/steps 3")
    rows = list(OutboundMessage.objects.filter(invocation=inv).order_by("id"))
    # The worker died after the second message: the rest was never stored.
    OutboundMessage.objects.filter(pk__in=[row.pk for row in rows[2:]]).delete()
    long_ago = timezone.now() - timedelta(hours=1)
    Invocation.objects.filter(pk=inv.pk).update(status=Invocation.Status.RUNNING, started_at=long_ago)
    invocation_execute(invocation_id=inv.pk)
    again = list(OutboundMessage.objects.filter(invocation=inv).order_by("id"))
    assert [row.text for row in again] == ["step 1 of 3", "step 2 of 3", "step 3 of 3", "all steps done"]
    assert [row.pk for row in again[:2]] == [row.pk for row in rows[:2]]  # the stored ones untouched
    assert len({row.ref for row in again}) == 4


def test_a_thread_left_behind_cannot_send_after_the_answer(slow) -> None:
    assert ask("/leave")[0] == "left"
    time.sleep(0.8)
    assert ask("/late")[0] == "PluginError"
    assert not OutboundMessage.objects.filter(text="too late").exists()


def test_the_number_of_messages_per_command_is_capped(slow) -> None:
    reply, inv = ask("/steps 150")
    assert inv.status == Invocation.Status.ERROR
    assert reply.endswith("A command may send at most 100 messages before its answer.")
    assert OutboundMessage.objects.filter(invocation=inv).count() == 101


def test_the_cap_is_said_in_the_users_language(slow) -> None:
    reply, _ = ask("/steps 101", language="es")
    assert reply.endswith("Un comando puede enviar como mucho 100 mensajes antes de su respuesta.")


def test_the_plugin_runner_records_what_a_command_sends(plugin_runner: PluginRunner) -> None:
    cls = plugin_class_load(entrypoint=SLOW, roots=[FIXTURES])
    assert plugin_runner(cls, "/asteps 2").text == "async done"
    assert plugin_runner.sent == [Reply("async step 1 of 2"), Reply("async step 2 of 2")]
    assert plugin_runner(cls, "hello").text == "async text: hello"


def test_send_outside_the_bot_says_the_platform_is_missing() -> None:
    with pytest.raises(PluginError):
        Context(user_id=USER).send("hi")


def test_an_async_handler_runs_where_an_event_loop_already_runs(plugin_runner: PluginRunner) -> None:
    import asyncio

    class Inner(Plugin):
        async def on_text(self, ctx: Context, text: str) -> str:
            return text.upper()

    async def inside() -> Reply:
        return plugin_runner(Inner, "quiet")

    assert asyncio.run(inside()).text == "QUIET"
