"""``manage.py botstatus``: the operator's one screen, the JSON for scripts, the exit code for monitoring."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from broker.statusrules import (
    Problem,
    Thresholds,
    age_text,
    bridge_down_seconds,
    problems_find,
    status_fields,
    url_redact,
)
from tests.conftest import ROOT, worker_env
from tests.sessionbot.botrows import BOT, SECRET_TEXT, bot_build, bridge_add, invocation_add, message_add, send_add


def _run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("botstatus", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def bot(db):
    """A working bot: connected bridge, two pending sends, ping answering with one timeout."""
    bot = bot_build()
    for ms in (4, 40, 400):
        invocation_add(bot, bot.ping, "ok", ms=ms)
    invocation_add(bot, bot.ping, "timeout", ms=10_000)
    invocation_add(bot, bot.ping, "ok", ms=2, ago=timedelta(hours=3))
    message_add(bot, "routed", invocation=invocation_add(bot, bot.ping, "ok", ms=1), reply_after=0.5)
    send_add(bot, "pending", ago=timedelta(minutes=5))
    send_add(bot, "pending")
    bridge_add(connected=True, last_seen=bot.now, status={"polling": True, "last_poll_ms": 120, "errors": {"poll": 2}})
    return bot


def test_a_healthy_bot_shows_its_bridge_outbox_and_plugins_and_exits_0(bot) -> None:
    code, text = _run()
    assert code == 0
    assert "HEALTHY" in text.splitlines()[0]
    assert BOT in text
    assert "connected for 10m" in text
    assert "last_poll_ms=120 polling=true" in text
    assert "2 pending (oldest 5m), 0 failed in 1h" in text
    assert "ok 4" in text
    assert "timeout 1" in text
    assert "embedded" in text or "redis://" in text
    ping = next(line for line in text.splitlines() if line.startswith("ping "))
    assert ping.split()[:8] == ["ping", "yes", "1.0.0", "loaded", "-", "5", "1", "20%"]
    weather = next(line for line in text.splitlines() if line.startswith("weather "))
    assert weather.split()[:3] == ["weather", "no", "2.1.0"]
    assert SECRET_TEXT not in text
    assert "Problems" not in text


def test_json_gives_the_same_facts_to_scripts(bot) -> None:
    code, out = _run("--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["healthy"] is True
    assert doc["problems"] == []
    assert doc["bridge"]["bot_id"] == BOT
    assert doc["bridge"]["connected"] is True
    assert doc["bridge"]["down_seconds"] is None
    assert doc["bridge"]["status"] == {"polling": True, "last_poll_ms": 120, "errors": {"poll": 2}}
    assert doc["outbox"]["pending"] == 2
    assert 300 <= doc["outbox"]["oldest_pending_seconds"] < 3600
    assert doc["invocations"]["ok"] == 4  # the run of three hours ago is outside the hour
    assert doc["invocations"]["timeout"] == 1
    plugins = {p["name"]: p for p in doc["plugins"]}
    assert plugins["ping"]["error_ratio"] == 0.2
    assert plugins["weather"]["enabled"] is False
    assert doc["database"].split()[0] in ("sqlite", "postgresql")
    assert SECRET_TEXT not in out


def test_a_window_of_four_hours_counts_older_runs(bot) -> None:
    doc = json.loads(_run("--json", "--window", "240")[1])
    assert doc["invocations"]["ok"] == 5


def test_a_bridge_gone_longer_than_allowed_makes_the_check_fail(db) -> None:
    bot = bot_build()
    bridge_add(connected=False, last_seen=bot.now - timedelta(minutes=5))
    code, text = _run()
    assert code == 1
    assert "UNHEALTHY" in text.splitlines()[0]
    assert "DISCONNECTED for 5m" in text
    assert "the bridge has been disconnected for 5m (limit 1m)" in text
    assert _run("--max-down", "600")[0] == 0


def test_a_bridge_that_never_connected_fails_the_check(db) -> None:
    bot_build()
    code, out = _run("--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["bridge"] is None
    assert doc["problems"] == [{"code": "bridge_disconnected", "value": None, "limit": 60.0}]
    assert "the bridge has never connected" in _run()[1]


def test_failed_sends_in_the_window_fail_the_check(bot) -> None:
    send_add(bot, "failed", ago=timedelta(hours=5))
    assert _run()[0] == 0  # given up long ago: not this hour's problem
    send_add(bot, "failed")
    code, text = _run()
    assert code == 1
    assert "1 send failed in the last 1h (limit 0)" in text
    assert "1 failed in 1h (2 in all)" in text
    assert _run("--max-failed", "1")[0] == 0


@pytest.mark.slow
def test_the_command_exits_non_zero_as_a_process(transactional_db) -> None:
    """What a monitoring system runs: a real process, judged by its exit code."""
    bot = bot_build()
    bridge_add(connected=False, last_seen=bot.now - timedelta(hours=1))
    cmd = [sys.executable, "manage.py", "botstatus", "--json"]
    proc = subprocess.run(cmd, cwd=ROOT, env=worker_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["problems"][0]["code"] == "bridge_disconnected"


# --- rules ------------------------------------------------------------------------------

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("connected", "last_seen", "expected"),
    [
        (True, NOW - timedelta(hours=5), None),
        (None, None, math.inf),
        (False, None, math.inf),
        (False, NOW - timedelta(seconds=90), 90.0),
        (False, NOW + timedelta(seconds=3), 0.0),  # clocks of two machines differ a little
    ],
)
def test_bridge_down_time(connected, last_seen, expected) -> None:
    assert bridge_down_seconds(connected=connected, last_seen=last_seen, now=NOW) == expected


@pytest.mark.parametrize(
    ("down", "failed", "thresholds", "codes"),
    [
        (None, 0, Thresholds(), []),
        (60.0, 0, Thresholds(), []),
        (61.0, 0, Thresholds(), ["bridge_disconnected"]),
        (math.inf, 3, Thresholds(), ["bridge_disconnected", "failed_sends"]),
        (None, 3, Thresholds(max_failed_sends=3), []),
        (500.0, 4, Thresholds(max_down_seconds=600, max_failed_sends=3), ["failed_sends"]),
    ],
)
def test_when_the_bot_counts_as_unhealthy(down, failed, thresholds, codes) -> None:
    found = problems_find(bridge_down=down, failed_sends=failed, thresholds=thresholds)
    assert [p.code for p in found] == codes
    assert all(isinstance(p, Problem) for p in found)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (math.inf, "-"), (0.4, "0s"), (59.9, "59s"), (60, "1m"), (3600 * 5 + 7, "5h"), (86400 * 3, "3d")],
)
def test_ages_are_short(seconds, text) -> None:
    assert age_text(seconds) == text


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:hunter2@cache:6379/5", "redis://cache:6379/5"),
        ("rediss://user:hunter2@cache.internal:6380/0?ssl_cert_reqs=none", "rediss://cache.internal:6380/0"),
        ("redis://127.0.0.1:6379/5", "redis://127.0.0.1:6379/5"),
        ("amqp://guest:guest@rabbit//", "amqp://rabbit//"),
    ],
)
def test_queue_urls_are_shown_without_credentials(url, shown) -> None:
    assert url_redact(url) == shown


@pytest.mark.parametrize(
    ("frame", "fields"),
    [
        ({}, []),
        ({"polling": True, "errors": 0}, [("errors", 0), ("polling", True)]),
        ({"errors": {"poll": 1, "decode": 0}}, [("errors.decode", 0), ("errors.poll", 1)]),
        ({"a": {"b": {"c": 1}}}, [("a.b", {"c": 1})]),  # one level only
    ],
)
def test_status_frames_are_flattened_one_level(frame, fields) -> None:
    assert status_fields(frame) == fields
