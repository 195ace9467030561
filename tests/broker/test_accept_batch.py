"""Messages stored together (``broker.accept.inbound_accept_many``): one result each, in order,
with the same outcomes as one at a time."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.test import override_settings

from broker.accept import inbound_accept_many
from broker.frames import Message
from broker.models import InboundMessage, OutboundMessage
from broker.ratelimit import Verdict, rate_limit_check, rate_limit_check_many
from plugins.models import BotUser, Invocation, Plugin
from sessionbot.botconfig import BotConfig, RateLimit
from tests.broker.conftest import BOT, OTHER, USER, message


def batch(*frames: dict[str, Any]) -> list[str]:
    messages = [Message.model_validate(frame) for frame in frames]
    return [result.status for result in inbound_accept_many(messages=messages, bot_id=BOT)]


def test_a_batch_gets_one_result_per_message_in_order(builtins: dict[str, Plugin]) -> None:
    assert batch(message(mid="stored-before")) == ["accepted"]
    statuses = batch(
        message(mid="a"),
        message(mid="stored-before"),
        message("x" * 10_001, mid="too-long"),
        message(mid="a"),
        message("/nosuch", sender=OTHER, mid="b"),
        message(mid="own", sender=BOT),
    )
    assert statuses == ["accepted", "duplicate", "rejected", "duplicate", "accepted", "accepted"]
    stored = dict(InboundMessage.objects.values_list("message_id", "status"))
    assert stored == {"stored-before": "routed", "a": "routed", "b": "answered", "own": "ignored"}
    assert Invocation.objects.count() == 2
    assert list(OutboundMessage.objects.values_list("to", flat=True)) == [OTHER]  # the hint to /help
    assert set(BotUser.objects.values_list("session_id", flat=True)) == {USER, OTHER}  # not the bot


def test_a_users_messages_in_one_batch_are_routed_in_turn(builtins: dict[str, Plugin]) -> None:
    assert batch(message("/ping", mid="first"), message("/echo hi", mid="second")) == ["accepted", "accepted"]
    invocations = Invocation.objects.order_by("pk")
    assert [(i.command, i.inbound_message.message_id) for i in invocations] == [("ping", "first"), ("echo", "second")]


def test_a_message_whose_invocation_outlived_its_stored_copy_reuses_it(builtins: dict[str, Plugin]) -> None:
    # An admin deleted the stored message; the bridge delivers it again (a resent batch).
    assert batch(message(mid="again")) == ["accepted"]
    first = Invocation.objects.get()
    InboundMessage.objects.all().delete()
    assert batch(message(mid="again"), message(mid="new")) == ["accepted", "accepted"]
    assert InboundMessage.objects.get(message_id="again").invocation_id == first.pk
    assert Invocation.objects.count() == 2  # "again" kept its invocation; "new" got one


def test_a_batch_counts_each_message_against_its_senders_rate_limit() -> None:
    # Runs on the configured cache: local memory, or Redis (one pipelined round trip).
    cache.clear()
    config = BotConfig(rate_limit=RateLimit(messages=2, window_seconds=3600))
    with override_settings(BOT_CONFIG=config):
        first = rate_limit_check_many(user_keys=[USER, OTHER, USER, USER, USER], now=7200.0)
        later = rate_limit_check(user_key=OTHER, now=7200.0)
        next_window = rate_limit_check_many(user_keys=[USER], now=10800.0)
    assert first == [Verdict.OK, Verdict.OK, Verdict.OK, Verdict.WARN, Verdict.DROP]
    assert later is Verdict.OK  # OTHER's second message in the window
    assert next_window == [Verdict.OK]
