"""Integers a bridge sends are bounded before they reach a 64-bit database column.

An out-of-range ``timestamp`` made storing fail with an internal error, which asks the
bridge to send the same message again: forever. It must be ``rejected`` (final) instead;
a ``sent`` with such a timestamp must still confirm its send.
"""

from __future__ import annotations

import pytest

from bridgeprotocol.frames import Message
from broker.accept import inbound_accept
from broker.models import OutboundMessage
from broker.outbox import outbox_confirm_many, outbox_enqueue_answer
from tests.thebot import the_bot

BOT = "05" + "b0" * 32
USER = "05" + "ab" * 32


def message(timestamp: int) -> Message:
    return Message.model_validate(
        {
            "id": f"h-ts-{timestamp}",
            "from": USER,
            "conversation": USER,
            "conversation_type": "private",
            "timestamp": timestamp,
            "text": "hello",
        }
    )


@pytest.mark.django_db
@pytest.mark.parametrize("timestamp", [2**63, 2**64 + 5, 10**30])
def test_a_timestamp_past_64_bits_is_rejected_with_a_reason(timestamp: int) -> None:
    result = inbound_accept(bot=the_bot().pk, message=message(timestamp), bot_id=BOT)
    assert result.status == "rejected"
    assert "timestamp" in (result.reason or "")


@pytest.mark.django_db
def test_an_ordinary_timestamp_is_accepted() -> None:
    assert inbound_accept(bot=the_bot().pk, message=message(1_790_000_000_000), bot_id=BOT).status == "accepted"


@pytest.mark.django_db
def test_a_sent_frame_with_a_huge_timestamp_still_confirms_the_send() -> None:
    [row] = outbox_enqueue_answer(bot=the_bot().pk, message_id="h-x", to=USER, text="hi")
    outbox_confirm_many(confirms=[(row.ref, "abc", 2**70)])
    stored = OutboundMessage.objects.get(ref=row.ref)
    assert (stored.status, stored.session_hash, stored.session_timestamp) == (OutboundMessage.Status.SENT, "abc", None)
