"""The hourly rollup against the rows it counts, and runbroker keeping it."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from broker.activity import (
    activity_events,
    activity_hours,
    activity_rollup,
    activity_rollup_tick,
    activity_slots,
    hour_floor,
)
from broker.activityrules import Tally, events_tally
from broker.models import ActivityHour, ActivityRollup
from plugins.models import Invocation
from tests.broker.servers import runbroker
from tests.conftest import wait_for
from tests.console.rows import bot_make, exchange, plugin_make, stored_week

H = timedelta(hours=1)


@pytest.fixture
def now():
    return timezone.now()


def _rows(hour):
    return {
        (row.bot.name, row.plugin): (row.messages_in, row.messages_out, row.invocations, row.finished, row.faults)
        for row in ActivityHour.objects.filter(hour=hour).select_related("bot")
    }


@pytest.mark.django_db
def test_each_hour_is_counted_per_bot_and_plugin_and_empty_hours_have_no_rows(now) -> None:
    a, b = bot_make("alpha"), bot_make("beta")
    echo, ping = plugin_make("echo"), plugin_make("ping")
    three_ago = hour_floor(now) - 3 * H
    exchange(bot=a, version=echo, at=three_ago + timedelta(minutes=5), parts=2)
    exchange(bot=a, version=echo, at=three_ago + timedelta(minutes=6), status="failed", latency=None)
    exchange(bot=a, version=None, at=three_ago + timedelta(minutes=7))
    exchange(bot=b, version=ping, at=three_ago + timedelta(minutes=8), status="timeout", latency=2.0)
    exchange(bot=b, version=ping, at=hour_floor(now) - H + timedelta(minutes=1), latency=40)
    written = activity_rollup(hours=4, now=now)
    assert written == 4
    assert _rows(three_ago) == {
        ("alpha", "echo"): (2, 2, 2, 2, 1),
        ("alpha", ""): (1, 0, 0, 0, 0),
        ("beta", "ping"): (1, 1, 1, 1, 1),
    }
    assert _rows(three_ago + H) == {}  # an hour with nothing in it
    assert _rows(three_ago + 2 * H) == {("beta", "ping"): (1, 1, 1, 1, 0)}
    assert ActivityHour.objects.get(hour=three_ago + 2 * H).latency[-1] == 1  # 40 s: above the last bound
    assert ActivityRollup.objects.get().rolled_until == hour_floor(now)


@pytest.mark.django_db
def test_stored_hours_hold_what_the_rows_of_each_hour_say(now) -> None:
    bot, echo = bot_make("alpha"), plugin_make("echo")
    start = hour_floor(now) - 6 * H
    for i, latency in enumerate([0.004, 0.02, 0.3, 0.3, 0.7, 1.5, 4.0, 12.0, 0.05, 0.08]):
        exchange(bot=bot, version=echo, at=start + i * timedelta(minutes=31), latency=latency)
    activity_rollup(hours=6, now=now)
    stored = activity_hours(start=start, end=hour_floor(now))
    raw = events_tally(activity_events(start=start, end=hour_floor(now)), start=start, width=H, slots=6)
    assert {(key, start + i * H): t for (key, i), t in raw.items()} == stored
    week = sum((t.latency[k] for t in stored.values() for k in range(len(t.latency))), 0)
    assert week == 10


@pytest.mark.django_db(transaction=True)  # the tick closes its connection, as in runbroker's thread
def test_a_late_reply_is_counted_when_its_hour_is_counted_again(now) -> None:
    bot, echo = bot_make("alpha"), plugin_make("echo")
    hour = hour_floor(now) - 2 * H
    inv = exchange(bot=bot, version=echo, at=hour + timedelta(minutes=1), latency=None, status="running")
    assert inv is not None
    assert activity_rollup_tick() > 0
    assert _rows(hour) == {("alpha", "echo"): (1, 0, 1, 0, 0)}
    inv.outbound_messages.update(status="sent", sent_at=hour + timedelta(minutes=2))
    Invocation.objects.filter(pk=inv.pk).update(status="ok")
    activity_rollup_tick()  # the last hours are counted again at every tick
    assert _rows(hour) == {("alpha", "echo"): (1, 1, 1, 1, 0)}


@pytest.mark.django_db(transaction=True)
def test_the_first_tick_counts_the_last_week_and_later_ticks_only_the_last_hours(now) -> None:
    bot, echo = bot_make("alpha"), plugin_make("echo")
    exchange(bot=bot, version=echo, at=now - timedelta(days=6, hours=23))
    exchange(bot=bot, version=echo, at=now - timedelta(days=9))  # older than a week: left out
    activity_rollup_tick()
    assert ActivityHour.objects.count() == 1
    ActivityHour.objects.all().delete()
    activity_rollup_tick()
    assert ActivityHour.objects.count() == 0  # not counted again: only the last hours are


@pytest.mark.django_db
def test_manage_py_rollup_counts_the_hours_asked_for_again(now) -> None:
    bot, echo = bot_make("alpha"), plugin_make("echo")
    exchange(bot=bot, version=echo, at=now - timedelta(hours=30))
    call_command("rollup", "--hours", "24")
    assert ActivityHour.objects.count() == 0
    call_command("rollup", "--hours", "48")
    assert ActivityHour.objects.get().messages_in == 1


@pytest.mark.slow
def test_runbroker_keeps_the_rollup_by_itself(transactional_db) -> None:
    bot, echo = bot_make("alpha"), plugin_make("echo")
    exchange(bot=bot, version=echo, at=timezone.now() - timedelta(hours=3))
    with runbroker("--no-worker", "--rollup-interval", "1"):
        assert wait_for(lambda: ActivityHour.objects.filter(bot=bot, plugin="echo").exists(), timeout=60)
        started = time.monotonic()
        exchange(bot=bot, version=echo, at=timezone.now() - timedelta(hours=2))
        assert wait_for(lambda: ActivityHour.objects.filter(messages_in=1).count() == 2, timeout=60)
        assert time.monotonic() - started < 30


@pytest.mark.django_db
@pytest.mark.parametrize("widths", [[1], [1, 1, 1], [6, 1, 30], [100, 66], [24, 48, 1, 93]])
def test_slots_hold_the_sums_of_their_stored_hours(now, widths) -> None:
    stored_week([bot_make("alpha"), bot_make("beta")], ["echo", "", "ping"], now=now)
    ActivityHour.objects.filter(hour=hour_floor(now) - 5 * H, plugin="ping").update(latency=[])  # counts only
    bounds = [hour_floor(now) - 167 * H]
    for width in widths:
        bounds.append(bounds[-1] + width * H)
    expected: dict = {}
    for (key, hour), t in activity_hours(start=bounds[0], end=bounds[-1]).items():
        slot = max(i for i, bound in enumerate(bounds[:-1]) if bound <= hour)
        expected.setdefault((key, slot), Tally()).add(t)
    assert activity_slots(bounds=bounds) == expected
    assert len(expected) == 6 * len(widths)  # every slot holds hours of each key
