"""``/metrics``: what Prometheus sees of a bot's history, and who may scrape it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from broker.statusrules import histogram_cumulate
from sessionbot import envcheck
from sessionbot.metricsaccess import ALLOWED, FORBIDDEN, TOKEN_REQUIRED, metrics_access
from tests.sessionbot.botrows import (
    BOT,
    SECRET_TEXT,
    USER,
    bot_build,
    bridge_add,
    invocation_add,
    message_add,
    plugin_install,
    send_add,
)

TOKEN = "scrape-token-0123456789abcdef"


def _samples(body: str) -> dict[tuple[str, frozenset], float]:
    """Every sample as {(name, labels): value}."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def _value(samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture
def history(db):
    """A bot that answered, failed, waits and keeps a connected bridge."""
    bot = bot_build()
    fast = invocation_add(bot, bot.ping, "ok", ms=4)
    slow = invocation_add(bot, bot.ping, "ok", ms=40)
    invocation_add(bot, bot.ping, "ok", ms=400)
    invocation_add(bot, bot.ping, "timeout", ms=10_000)
    invocation_add(bot, bot.ping, "ok", ms=2, ago=timedelta(days=2))  # counted in totals, not in the recent window
    invocation_add(bot, bot.ping, "running")
    invocation_add(bot, bot.weather, "queued")
    message_add(bot, "routed", invocation=fast, reply_after=0.2)
    message_add(bot, "routed", invocation=slow, reply_after=3.0)
    message_add(bot, "ignored")
    message_add(bot, "accepted")
    send_add(bot, "pending", ago=timedelta(minutes=5))
    send_add(bot, "pending")
    send_add(bot, "failed")
    bridge_add(
        connected=True,
        last_seen=bot.now,
        status={"polling": True, "last_poll_ms": 120, "errors": {"poll": 2, "decode": 0}, "note": "free text"},
    )
    return bot


def _scrape(client, **extra) -> str:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    return response.content.decode()


def test_it_counts_messages_sends_and_invocations_from_the_database(client, history) -> None:
    samples = _samples(_scrape(client))
    assert _value(samples, "sessionbot_inbound_messages_total", status="routed") == 2
    assert _value(samples, "sessionbot_inbound_messages_total", status="ignored") == 1
    assert _value(samples, "sessionbot_inbound_messages_waiting") == 1
    assert _value(samples, "sessionbot_outbound_pending") == 2
    assert 300 <= _value(samples, "sessionbot_outbound_oldest_pending_age_seconds") < 3600
    assert _value(samples, "sessionbot_outbound_messages_total", status="failed") == 1
    assert _value(samples, "sessionbot_outbound_messages_total", status="sent") == 4  # two replies of two parts
    assert _value(samples, "sessionbot_invocations_total", plugin="ping", status="ok") == 4
    assert _value(samples, "sessionbot_invocations_total", plugin="ping", status="timeout") == 1
    assert _value(samples, "sessionbot_invocations_total", plugin="weather", status="ok") == 0
    assert _value(samples, "sessionbot_invocations_in_progress", plugin="ping", status="running") == 1
    assert _value(samples, "sessionbot_invocations_in_progress", plugin="weather", status="queued") == 1


def test_duration_and_latency_histograms_cover_the_recent_window(client, history) -> None:
    samples = _samples(_scrape(client))
    ping = "sessionbot_invocation_duration_recent_seconds_bucket"
    # 4 ms, 40 ms, 400 ms and a 10 s timeout; the 2 ms run of two days ago is outside the window.
    assert [_value(samples, ping, plugin="ping", le=le) for le in ("0.005", "0.05", "0.5", "10", "+Inf")] == [
        1,
        2,
        3,
        4,
        4,
    ]
    assert _value(samples, "sessionbot_invocation_duration_recent_seconds_gsum", plugin="ping") == pytest.approx(10.444)
    latency = "sessionbot_reply_latency_recent_seconds_bucket"
    assert [_value(samples, latency, le=le) for le in ("0.1", "0.25", "2.5", "5", "+Inf")] == [0, 1, 1, 2, 2]
    assert _value(samples, "sessionbot_reply_latency_recent_seconds_gsum") == pytest.approx(3.2)


def test_plugin_health_and_bridge_state_are_exposed(client, history) -> None:
    samples = _samples(_scrape(client))
    assert _value(samples, "sessionbot_plugin_enabled", plugin="ping") == 1
    assert _value(samples, "sessionbot_plugin_enabled", plugin="weather") == 0
    assert _value(samples, "sessionbot_plugin_error_ratio", plugin="ping") == pytest.approx(0.25)
    assert _value(samples, "sessionbot_plugin_error_ratio", plugin="weather") == 0
    assert _value(samples, "sessionbot_plugin_info", plugin="weather", version="2.1.0") == 1
    assert _value(samples, "sessionbot_bridge_connected", bot_id=BOT) == 1
    assert _value(samples, "sessionbot_bridge_last_seen_timestamp_seconds", bot_id=BOT) == pytest.approx(
        history.now.timestamp()
    )
    assert _value(samples, "sessionbot_bridge_status", bot_id=BOT, field="last_poll_ms") == 120
    assert _value(samples, "sessionbot_bridge_status", bot_id=BOT, field="errors_poll") == 2
    assert ("sessionbot_bridge_status", frozenset({("bot_id", BOT), ("field", "note")})) not in samples


def test_no_message_text_or_user_session_id_appears(client, history) -> None:
    body = _scrape(client)
    assert SECRET_TEXT not in body
    assert USER not in body
    assert "Alice" not in body


def test_prometheus_gets_openmetrics_with_a_gauge_histogram(client, history) -> None:
    response = client.get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0,text/plain;q=0.5")
    assert response["Content-Type"].startswith("application/openmetrics-text")
    families = {f.name: f for f in openmetrics_families(response.content.decode())}
    assert families["sessionbot_reply_latency_recent_seconds"].type == "gaugehistogram"
    assert families["sessionbot_invocations"].type == "counter"


def _queries_of_a_scrape(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        _scrape(client)
    return len(queries)


def test_a_scrape_costs_a_few_queries_however_many_plugins(client, history) -> None:
    few = _queries_of_a_scrape(client)
    for n in range(15):
        plugin_install(f"extra{n}")
    assert _queries_of_a_scrape(client) == few <= 13  # the outbox: one query per status, on its index
    assert _value(_samples(_scrape(client)), "sessionbot_plugin_enabled", plugin="extra14") == 1


def test_an_empty_bot_scrapes_cleanly(client, db) -> None:
    samples = _samples(_scrape(client))
    assert _value(samples, "sessionbot_outbound_pending") == 0
    assert _value(samples, "sessionbot_reply_latency_recent_seconds_bucket", le="+Inf") == 0


# --- access -----------------------------------------------------------------------------


def test_another_machine_is_refused_without_a_token(client, db, settings) -> None:
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", REMOTE_ADDR="10.0.0.7")
    assert response.status_code == 403
    assert b"METRICS_TOKEN" in response.content


def test_a_local_proxy_does_not_make_a_remote_scrape_local(client, db, settings) -> None:
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


def test_the_token_opens_metrics_to_other_machines(client, db, settings) -> None:
    settings.METRICS_TOKEN = TOKEN
    remote = {"REMOTE_ADDR": "10.0.0.7"}
    missing = client.get("/metrics", **remote)
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token-0123456789", **remote).status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **remote).status_code == 200
    # Loopback keeps working without the token, so `curl localhost` still does.
    assert client.get("/metrics").status_code == 200


@pytest.mark.parametrize(
    ("remote", "forwarded", "authorization", "token", "expected"),
    [
        ("127.0.0.1", False, "", "", ALLOWED),
        ("127.0.0.5", False, "", "", ALLOWED),
        ("::1", False, "", "", ALLOWED),
        ("127.0.0.1", True, "", "", FORBIDDEN),
        ("192.168.1.4", False, "", "", FORBIDDEN),
        ("", False, "", "", FORBIDDEN),
        ("not an address", False, "", TOKEN, TOKEN_REQUIRED),
        ("192.168.1.4", False, f"Bearer {TOKEN}", TOKEN, ALLOWED),
        ("192.168.1.4", False, f"bearer  {TOKEN} ", TOKEN, ALLOWED),
        ("192.168.1.4", False, f"Basic {TOKEN}", TOKEN, TOKEN_REQUIRED),
        ("192.168.1.4", False, f"Bearer {TOKEN}x", TOKEN, TOKEN_REQUIRED),
        ("127.0.0.1", False, "Bearer wrong", TOKEN, TOKEN_REQUIRED),
        ("192.168.1.4", False, f"Bearer {TOKEN}", "", FORBIDDEN),
    ],
)
def test_access_rules(remote, forwarded, authorization, token, expected) -> None:
    assert metrics_access(remote_addr=remote, forwarded=forwarded, authorization=authorization, token=token) == expected


@pytest.mark.parametrize(
    ("raw", "ok"), [("", True), (TOKEN, True), ("short", False), ("a" * 10 + " " + "b" * 10, False), ("ü" * 20, False)]
)
def test_metrics_token_is_checked_like_the_bridge_token(raw, ok) -> None:
    if ok:
        assert envcheck.metrics_token_check(raw) == raw
    else:
        with pytest.raises(envcheck.EnvError, match=r"^METRICS_TOKEN: must be at least 16") as caught:
            envcheck.metrics_token_check(raw)
        assert raw.strip() not in str(caught.value) or not raw.strip()


@pytest.mark.parametrize(
    ("values", "counts", "total"),
    [
        ([], [0, 0, 0], 0.0),
        ([0.5], [1, 1, 1], 0.5),
        ([1.0, 2.0], [1, 2, 2], 3.0),
        ([0.1, 3.0, 99.0], [1, 1, 3], 102.1),
    ],
)
def test_histogram_buckets_are_cumulative(values, counts, total) -> None:
    got, got_total, n = histogram_cumulate(values, (1.0, 2.0))
    assert got == counts
    assert got_total == pytest.approx(total)
    assert n == len(values)
