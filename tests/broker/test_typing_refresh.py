"""Typing indicators kept up while a command works: the core's schedule and the broker's read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.utils import timezone

from bridgeprotocol.frames import TYPING_REFRESH_SECONDS, FrameError, Typing, parse_frame
from broker.connection import Connection
from broker.connection_jobs import Effect, Found, ReadDue, ReadRung, ReadWorking, StoreHello, Write
from broker.models import InboundMessage
from broker.working import conversations_working
from plugins.models import BotUser, Invocation, Plugin, PluginVersion
from tests.thebot import the_bot

BOT = "05" + "b0" * 32
USER = "05" + "ab" * 32
OTHER = "05" + "cd" * 32
HELLO_AT = datetime(2026, 1, 1, tzinfo=UTC)


def connected(features: list[str] | None, now: float = 100.0) -> Connection:
    core = Connection(lanes=1, rung=True)
    hello: dict[str, Any] = {"type": "hello", "protocol": 1, "bot_id": BOT, "client": "tests/typing"}
    if features is not None:
        hello["features"] = features
    (job,) = core.frame_received(json.dumps(hello))
    assert isinstance(job, StoreHello)
    effects = core.job_done(job, SimpleNamespace(connected_at=HELLO_AT, another_open=False, bot=1, refused=""), now=now)
    for poll in [e for e in effects if isinstance(e, ReadDue)]:
        core.job_done(poll, Found(), now=now)  # the first poll after hello finds nothing
    return core


def jobs(effects: list[Effect]) -> list[ReadWorking]:
    """The typing reads among ``effects`` (the outbox polls left out); nothing else is expected."""
    found = [e for e in effects if not isinstance(e, ReadDue)]
    assert all(isinstance(e, ReadWorking) for e in found), found
    return [e for e in found if isinstance(e, ReadWorking)]


def test_a_bridge_that_asks_gets_typing_frames_for_working_conversations_every_refresh() -> None:
    core = connected(["typing"])
    assert core.deadline(now=100.0) is not None
    assert jobs(core.tick(now=100.0 + TYPING_REFRESH_SECONDS - 0.1)) == []
    (read,) = jobs(core.tick(now=100.0 + TYPING_REFRESH_SECONDS))
    assert read == ReadWorking(bot=1)
    assert jobs(core.tick(now=100.0 + TYPING_REFRESH_SECONDS + 5)) == []  # one read at a time
    written = core.job_done(read, [USER, OTHER], now=113.0)
    assert written == [Write({"type": "typing", "to": USER}), Write({"type": "typing", "to": OTHER})]
    assert jobs(core.tick(now=113.0 + TYPING_REFRESH_SECONDS - 0.1)) == []
    assert jobs(core.tick(now=113.0 + TYPING_REFRESH_SECONDS)) == [ReadWorking(bot=1)]


def test_no_typing_frame_follows_a_send_written_while_the_read_was_under_way() -> None:
    core = connected(["typing"])
    effects = core.tick(now=200.0)
    (read,) = jobs(effects)
    for poll in [e for e in effects if isinstance(e, ReadDue)]:
        core.job_done(poll, Found(), now=200.0)
    (rung,) = core.ring(("inv1-1",), poll=False, now=200.1)
    assert isinstance(rung, ReadRung)
    answer = {"type": "send", "ref": "inv1-1", "to": USER, "text": "done"}
    assert Write(answer) in core.job_done(rung, Found(sends=[answer]), now=200.2)
    # The read saw USER's command still working, but its answer has gone out since.
    assert core.job_done(read, [USER, OTHER], now=200.3) == [Write({"type": "typing", "to": OTHER})]
    (again,) = jobs(core.tick(now=200.3 + TYPING_REFRESH_SECONDS))
    assert core.job_done(again, [USER], now=213.0) == [Write({"type": "typing", "to": USER})]


def test_a_failed_read_tries_again_at_the_next_refresh() -> None:
    core = connected(["typing"])
    (read,) = jobs(core.tick(now=200.0))
    assert core.job_failed(read, now=200.0) == []
    assert jobs(core.tick(now=200.0 + TYPING_REFRESH_SECONDS)) == [ReadWorking(bot=1)]


@pytest.mark.parametrize("features", [None, [], ["something-else"]])
def test_a_bridge_that_does_not_ask_gets_no_typing_frames(features) -> None:
    core = connected(features)
    for later in (20.0, 200.0, 2000.0):
        assert not any(isinstance(e, ReadWorking) for e in core.tick(now=later))


def test_a_closed_connection_reads_no_more() -> None:
    core = connected(["typing"])
    (read,) = jobs(core.tick(now=200.0))
    core.close()
    assert core.job_done(read, [USER], now=201.0) == []
    assert core.deadline(now=300.0) is None


def test_the_typing_frame_parses_and_a_bridge_may_not_send_one_to_the_broker() -> None:
    assert parse_frame(json.dumps({"type": "typing", "to": USER})) == Typing(to=USER)
    core = connected(["typing"])
    (answer,) = core.frame_received(json.dumps({"type": "typing", "to": USER}))
    assert isinstance(answer, Write)
    assert answer.frame["code"] == "bad_frame"
    with pytest.raises(FrameError):
        parse_frame(json.dumps({"type": "typing"}))


def invocation(mid: str, conversation: str, status: str, *, started_ago: float | None, timeout: float) -> None:
    plugin = Plugin.objects.create(name=f"p-{mid}")
    version = PluginVersion.objects.create(plugin=plugin, version="1", entrypoint="x:Y", timeout_seconds=timeout)
    user, _ = BotUser.objects.get_or_create(bot=the_bot(), session_id=conversation)
    now = timezone.now()
    started = None if started_ago is None else now - timedelta(seconds=started_ago)
    inv = Invocation.objects.create(
        bot=the_bot(),
        key=mid,
        user=user,
        plugin_version=version,
        command="x",
        conversation=conversation,
        status=status,
        started_at=started,
    )
    InboundMessage.objects.create(
        bot=the_bot(),
        message_id=mid,
        sender=conversation,
        conversation=conversation,
        conversation_type="private",
        timestamp=1,
        text="/x",
        status="routed",
        invocation=inv,
    )


@pytest.mark.django_db
def test_the_conversations_working_are_those_whose_command_is_queued_or_running_and_not_lost() -> None:
    invocation("a", USER, "running", started_ago=600, timeout=900)  # a slow plugin, still working
    invocation("b", USER, "queued", started_ago=None, timeout=10)  # the same user, once
    invocation("c", OTHER, "running", started_ago=100, timeout=10)  # its worker died: no typing
    invocation("d", "05" + "ef" * 32, "ok", started_ago=5, timeout=10)  # answered
    assert conversations_working(bot=the_bot().pk) == [USER]
