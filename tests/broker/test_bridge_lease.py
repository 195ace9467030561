"""One live bridge connection per bot: the lease rule and the connection core, by table.

The rule (``broker.bridgelease``) decides who takes a bot's lease; the core
(``broker.connection``) refuses a hello that does not take it, renews the lease it holds and
closes itself when a renewal finds a newer connection holds it. Both are pure, so every row
here plays events and checks what is written and begun, as ``test_connection`` does.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from broker.bridgelease import LEASE_RENEW_SECONDS, LEASE_SECONDS, Holder, lease_takes
from broker.bridges import Connected
from broker.connection import CONFLICT_REFUSED, CONFLICT_SUPERSEDED
from broker.connection_jobs import LeaseRenew, Note, StoreClose, StoreHello
from tests.broker.test_connection import BOT, CONNECTED, HELLO_AT, Driver

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
LIVE = NOW + timedelta(seconds=LEASE_SECONDS / 2)
NOBODY = Holder(instance="", epoch=0, lease_until=None)
BRIDGE_A = Holder(instance="a" * 32, epoch=7, lease_until=LIVE)
LEGACY = Holder(instance="", epoch=7, lease_until=LIVE)  # a bridge that sends no instance holds it

TAKES: dict[str, tuple[Holder, str | None, int | None, bool]] = {
    # name: (holder, the hello's instance, the epoch its connection holds, takes)
    "nobody holds it: a bridge with an instance takes it": (NOBODY, "b" * 32, None, True),
    "nobody holds it: a bridge without one takes it": (NOBODY, None, None, True),
    "a closed holder let it go": (Holder("a" * 32, 7, None), "b" * 32, None, True),
    "the holder stopped renewing: another bridge takes it": (Holder("a" * 32, 7, NOW), "b" * 32, None, True),
    "the holder stopped renewing: a bridge without instance takes it": (Holder("a" * 32, 7, NOW), None, None, True),
    "the same bridge reconnects while its old connection is half-open": (BRIDGE_A, "a" * 32, None, True),
    "a second hello on the holding connection": (BRIDGE_A, "a" * 32, 7, True),
    "a second hello without instance on the holding connection": (LEGACY, None, 7, True),
    "another bridge while the lease is live": (BRIDGE_A, "b" * 32, None, False),
    "a bridge without instance while another's lease is live": (BRIDGE_A, None, None, False),
    "a bridge without instance while a legacy holder's lease is live": (LEGACY, None, None, False),
    "a bridge whose instance is empty is not the legacy holder": (LEGACY, "", None, False),
    "an older connection whose lease was taken says hello again": (BRIDGE_A, "b" * 32, 6, False),
}


@pytest.mark.parametrize(("holder", "instance", "held_epoch", "takes"), TAKES.values(), ids=TAKES.keys())
def test_who_takes_the_lease(holder: Holder, instance: str | None, held_epoch: int | None, takes: bool) -> None:
    assert lease_takes(holder, instance=instance, held_epoch=held_epoch, now=NOW) is takes


def test_a_lease_outlasts_two_lost_renewals() -> None:
    assert LEASE_SECONDS > 2 * LEASE_RENEW_SECONDS


REFUSED = Connected(connected_at=HELLO_AT, another_open=True, refused=True)
TAKEN_AGAIN = Connected(connected_at=HELLO_AT, another_open=True, epoch=2)

CONFLICTS: dict[str, list[tuple[Any, ...]]] = {
    "a refused hello is answered bridge_conflict, closed with 4409 and records no close": [
        ("hello", ("instance", "b" * 32)),
        ("began", ["hello tests/1"]),
        ("done", "hello tests/1", REFUSED),
        ("wrote", ["error bridge_conflict None", "close 4409"]),
        ("began", []),  # no poll: it pushes nothing
        ("msg", "m1"),
        ("at", 60.0),
        ("tick",),
        ("close",),
        ("wrote", []),
        ("began", []),  # it never held the lease: nothing of its to record closed
    ],
    "a hello refused after the close writes nothing": [
        ("hello",),
        ("close",),
        ("done", "hello tests/1", REFUSED),
        ("wrote", []),
        ("began", ["hello tests/1"]),
    ],
    "the holder renews its lease every period": [
        *CONNECTED,
        ("at", LEASE_RENEW_SECONDS - 0.01),
        ("tick",),
        ("done", "poll from 0", []),
        ("began", ["poll from 0"]),
        ("at", LEASE_RENEW_SECONDS),
        ("tick",),
        ("began", ["renew 1"]),
        ("done", "renew 1", True),
        ("at", 2 * LEASE_RENEW_SECONDS - 0.01),
        ("tick",),
        ("began", ["poll from 0"]),  # the idle poll, no renewal yet
        ("at", 2 * LEASE_RENEW_SECONDS),
        ("tick",),
        ("began", ["renew 1"]),
        ("wrote", []),
    ],
    "a superseded connection says so, closes with 4409 and pushes nothing more": [
        *CONNECTED,
        ("at", LEASE_RENEW_SECONDS),
        ("tick",),
        ("began", ["poll from 0", "renew 1"]),
        ("done", "renew 1", False),
        ("wrote", ["error bridge_conflict None", "close 4409"]),
        ("done", "poll from 0", ["r1"]),  # read before it knew: not pushed
        ("ring", ["r2"], True),
        ("msg", "m1"),
        ("at", 3 * LEASE_RENEW_SECONDS),
        ("tick",),
        ("wrote", []),
        ("began", []),
        ("close",),
        ("began", ["close"]),  # by its own epoch: the newer connection's record stays
    ],
    "a superseded connection's messages under way are not acked": [
        *CONNECTED,
        ("msg", "m1"),
        ("began", ["accept 0: m1"]),
        ("at", LEASE_RENEW_SECONDS),
        ("tick",),
        ("began", ["poll from 0", "renew 1"]),
        ("done", "renew 1", False),
        ("wrote", ["error bridge_conflict None", "close 4409"]),
        ("done", "accept 0: m1", ["accepted"]),
        ("wrote", []),  # the bridge sends it again on its new connection and gets duplicate
    ],
    "a failed renewal is tried again a period later": [
        *CONNECTED,
        ("at", LEASE_RENEW_SECONDS),
        ("tick",),
        ("done", "poll from 0", []),
        ("fail", "renew 1"),
        ("began", ["poll from 0", "renew 1"]),
        ("wrote", []),
        ("at", 2 * LEASE_RENEW_SECONDS),
        ("tick",),
        ("began", ["poll from 0", "renew 1"]),
    ],
    "a renewal that returns while a second hello is stored is left to the hello": [
        *CONNECTED,
        ("at", LEASE_RENEW_SECONDS),
        ("tick",),
        ("done", "poll from 0", []),
        ("hello",),
        ("done", "renew 1", False),  # the hello took the lease again (epoch 2) first
        ("wrote", []),
        ("done", "hello tests/1", TAKEN_AGAIN),
        ("wrote", ["welcome"]),
        ("at", 2 * LEASE_RENEW_SECONDS),
        ("tick",),
        ("began", ["poll from 0", "renew 1", "hello tests/1", "poll from 0 all", "renew 2"]),
    ],
}


@pytest.mark.parametrize("steps", CONFLICTS.values(), ids=CONFLICTS.keys())
def test_each_lease_interleaving_writes_what_the_protocol_says(steps: list[tuple[Any, ...]]) -> None:
    driver = Driver(lanes=1)
    for step in steps:
        driver.play(step)


def test_the_hello_passes_the_bridges_instance_and_the_epoch_the_connection_holds() -> None:
    driver = Driver()
    driver.play(("hello", ("instance", "a" * 32)))
    assert driver.jobs["hello tests/1"] == StoreHello(bot_id=BOT, client="tests/1", protocol=1, instance="a" * 32)
    driver.done("hello tests/1")
    driver.play(("hello",))
    assert driver.jobs["hello tests/1"] == StoreHello(bot_id=BOT, client="tests/1", protocol=1, held_epoch=1)


def test_the_refused_and_the_superseded_are_told_why_and_the_log_names_the_bot() -> None:
    refused = Driver()
    refused.play(("hello",))
    refused.done("hello tests/1", REFUSED)
    assert refused.frames == [{"type": "error", "code": "bridge_conflict", "detail": CONFLICT_REFUSED}]
    assert refused.notes == [
        Note(
            logging.WARNING,
            f"refused a bridge of bot {BOT} (client tests/1): another connection of the bot holds its lease; "
            "run one bridge per bot, or users may get replies twice",
        )
    ]
    superseded = Driver()
    for step in [*CONNECTED, ("at", LEASE_RENEW_SECONDS), ("tick",), ("done", "renew 1", False)]:
        superseded.play(step)
    assert superseded.frames[-1] == {"type": "error", "code": "bridge_conflict", "detail": CONFLICT_SUPERSEDED}
    assert superseded.notes[-1] == Note(
        logging.WARNING,
        f"closed a connection of the bridge of bot {BOT}: a newer connection took its lease (this one held epoch 1)",
    )


def test_the_renewal_and_the_close_name_the_epoch_taken() -> None:
    driver = Driver()
    for step in [*CONNECTED[:2], ("done", "hello tests/1", Connected(HELLO_AT, False, epoch=41))]:
        driver.play(step)
    driver.play(("at", LEASE_RENEW_SECONDS))
    driver.play(("tick",))
    assert driver.jobs["renew 41"] == LeaseRenew(bot_id=BOT, epoch=41)
    driver.play(("close",))
    driver.done("renew 41", True)
    assert driver.jobs["close"] == StoreClose(bot_id=BOT, connected_at=HELLO_AT, epoch=41)
