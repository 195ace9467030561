"""The admin's front page: the dashboard, its figures per bot and plugin, its links and cost."""

from __future__ import annotations

import base64
import io
import re
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from broker.activity import activity_rollup, hour_floor
from broker.activityrules import bucket_quantile
from broker.models import ActivityRollup, BridgeStatus, OutboundMessage
from console.dashboard import dashboard_collect, latency_text
from tests.console.rows import bot_make, exchange, plugin_make, stored_week

pytestmark = pytest.mark.django_db
INDEX = reverse("admin:index")
H = timedelta(hours=1)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value or "" for name, value in attrs if name in ("href", "src", "action", "xlink:href")]


def _links(page: str) -> list[str]:
    parser = _Links()
    parser.feed(page)
    return parser.urls


@pytest.fixture
def two_bots():
    """alpha: echo and ping, one fault; beta: ping only. Some of it is days old, rolled up."""
    now = timezone.now()
    alpha, beta = bot_make("alpha"), bot_make("beta")
    echo, ping = plugin_make("echo"), plugin_make("ping")
    recent = now - timedelta(minutes=10)
    exchange(bot=alpha, version=echo, at=recent, latency=0.2)
    exchange(bot=alpha, version=echo, at=recent, latency=0.4, parts=3)
    exchange(bot=alpha, version=ping, at=recent, status="crashed", latency=None, error="Traceback\nValueError: <boom>")
    exchange(bot=alpha, version=None, at=recent)
    exchange(bot=beta, version=ping, at=recent - timedelta(minutes=1), latency=3.0)
    # Five hours ago (in the day, from the rollup) and three days ago (in the week only).
    exchange(bot=beta, version=ping, at=hour_floor(now) - 5 * H + timedelta(minutes=1), latency=0.1)
    exchange(bot=beta, version=ping, at=now - timedelta(days=3), status="timeout", latency=None)
    activity_rollup(hours=7 * 24, now=now)
    BridgeStatus.objects.create(
        bot_id=alpha.session_id,
        connected=True,
        connected_at=now - timedelta(minutes=30),
        last_seen=now,
        status={"last_poll_at": int((now.timestamp() - 42 * 60) * 1000)},
    )
    return alpha, beta


def _figures(windows):
    return {
        name: (f.messages_in, f.messages_out, f.invocations, f.faults)
        for name, f in (("hour", windows.hour), ("day", windows.day), ("week", windows.week))
    }


def test_each_bot_and_each_plugin_has_its_own_figures_over_hour_day_and_week(two_bots) -> None:
    d = dashboard_collect()
    bots = {card.name: card for card in d.bots}
    assert _figures(bots["alpha"].windows) == {"hour": (4, 4, 3, 1), "day": (4, 4, 3, 1), "week": (4, 4, 3, 1)}
    assert _figures(bots["beta"].windows) == {"hour": (1, 1, 1, 0), "day": (2, 2, 2, 0), "week": (3, 2, 3, 1)}
    assert bots["alpha"].windows.hour.error_rate == "33.3%"
    assert bots["alpha"].windows.hour.p50 == "250 ms"  # two replies: 0.2 s and 0.4 s, both in (0.1, 0.5]
    assert bots["beta"].windows.week.error_rate == "33.3%"
    assert bots["alpha"].bridge_ok
    assert bots["alpha"].last_poll == "42m"
    assert not bots["beta"].bridge_ok
    plugins = {p.name: p for p in d.plugins}
    assert _figures(plugins["echo"].windows)["week"] == (2, 4, 2, 0)
    assert _figures(plugins["ping"].windows)["week"] == (4, 2, 4, 2)
    assert _figures(plugins[""].windows)["week"] == (1, 0, 0, 0)  # the message no plugin handled
    assert plugins["ping"].health is not None
    assert [e.plugin for e in d.errors] == ["ping", "ping"]
    assert d.errors[0].error == "ValueError: <boom>"


def test_the_admin_index_is_the_dashboard_with_the_app_list_below(admin_client, two_bots) -> None:
    page = admin_client.get(INDEX).content.decode()
    dashboard, apps = page.index('id="console-dashboard"'), page.index('id="content-main"')
    assert (dashboard < page.index("app-bots") and apps < dashboard) or dashboard < apps
    assert 'id="console-bot-alpha"' in page
    assert 'id="console-bot-beta"' in page
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 2 * 3 + 3  # per bot and plugin
    assert "ValueError: &lt;boom&gt;" in page  # escaped
    assert "<boom>" not in page


@pytest.mark.parametrize("span", ["hour", "day", "week", "nonsense"])
def test_every_range_renders(admin_client, two_bots, span) -> None:
    response = admin_client.get(INDEX, {"range": span})
    assert response.status_code == 200
    assert 'aria-current="page"' in response.content.decode()


def test_every_error_links_to_its_invocation_page(admin_client, two_bots) -> None:
    page = admin_client.get(INDEX).content.decode()
    links = [url for url in _links(page) if re.search(r"/plugins/invocation/\d+/change/", url)]
    assert len(links) == 2
    for url in links:
        invocation = admin_client.get(url)
        assert invocation.status_code == 200
        assert "crashed" in invocation.content.decode() or "timeout" in invocation.content.decode()


def test_the_page_loads_nothing_from_another_host(admin_client, two_bots) -> None:
    page = admin_client.get(INDEX).content.decode()
    urls = _links(page)
    assert urls
    outside = [url for url in urls if re.match(r"^([a-z][a-z0-9+.-]*:)?//", url, re.I)]
    assert outside == []
    assert "@import" not in page
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page)


def test_the_session_id_qr_code_decodes_to_the_session_id(admin_client, two_bots) -> None:
    zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp (requirements-dev.txt) decodes QR codes")
    image = pytest.importorskip("PIL.Image", reason="pillow (requirements-dev.txt) reads the PNG")
    alpha, _beta = two_bots
    for url in (INDEX, reverse("admin:bots_bot_change", args=[alpha.pk])):
        page = admin_client.get(url).content.decode()
        found = re.search(
            rf'<img class="session-id-qr" src="data:image/png;base64,([^"]+)" alt="[^"]*{alpha.session_id}', page
        )
        assert found, url
        png = image.open(io.BytesIO(base64.b64decode(found.group(1)))).convert("L")
        assert [code.text for code in zxingcpp.read_barcodes(png)] == [alpha.session_id]
        assert f'value="{alpha.session_id}"' in page


def test_the_query_count_does_not_grow_with_bots_plugins_or_rows(admin_client, django_assert_max_num_queries) -> None:
    now = timezone.now()
    for n in range(12):
        bot, version = bot_make(f"bot{n}"), plugin_make(f"plugin{n}")
        for minutes in (5, 65, 60 * 30):
            exchange(bot=bot, version=version, at=now - timedelta(minutes=minutes), status="failed")
        BridgeStatus.objects.create(bot_id=bot.session_id, connected=n % 2 == 0, last_seen=now)
    activity_rollup(hours=48, now=now)
    with django_assert_max_num_queries(24) as captured:
        assert admin_client.get(INDEX).status_code == 200
    many = len(captured)
    OutboundMessage.objects.update(status="pending")
    bot_make("one-more")
    with django_assert_max_num_queries(many):
        admin_client.get(INDEX)


def test_a_staff_user_who_may_not_view_invocations_sees_no_figures(client, django_user_model, two_bots) -> None:
    user = django_user_model.objects.create_user("staff", password="pw-not-used", is_staff=True)
    client.force_login(user)
    page = client.get(INDEX).content.decode()
    assert "console-bot-alpha" not in page
    assert "ValueError" not in page


def test_hours_counted_again_show_at_the_next_load(two_bots) -> None:
    alpha, _beta = two_bots
    before = dashboard_collect().bots[0].windows.week.messages_in
    exchange(bot=alpha, version=None, at=timezone.now() - timedelta(days=2))
    assert dashboard_collect().bots[0].windows.week.messages_in == before  # not counted yet
    activity_rollup(hours=7 * 24)
    assert dashboard_collect().bots[0].windows.week.messages_in == before + 1


def test_the_weeks_chart_names_the_days_in_the_pages_language(two_bots) -> None:
    from django.utils import translation

    with translation.override("es"):
        charts = " ".join(dashboard_collect(span="week").bots[0].charts)
    assert re.search(r">(lun|mar|mié|jue|vie|sáb|dom) \d\d:00<", charts), charts[:500]


def test_a_load_reads_the_stored_week_as_one_row_per_key_and_slot_once_per_tick() -> None:
    now = timezone.now()
    bots, plugins = [bot_make("alpha"), bot_make("beta")], ["echo", "ping", ""]
    rows = stored_week(bots, plugins, now=now)
    queries: list[tuple[str, Any]] = []

    def kept(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if "broker_activityhour" in sql and not sql.startswith("SELECT COUNT(*) FROM ("):
            queries.append((sql, params))
        return execute(sql, params, many, context)

    def fetched() -> int:
        """Rows the stored-hour queries kept since the last call returned."""
        total = 0
        with connection.cursor() as cursor:
            for sql, params in queries:
                cursor.execute(f"SELECT COUNT(*) FROM ({sql}) AS q", params)
                total += cursor.fetchone()[0]
        queries.clear()
        return total

    with connection.execute_wrapper(kept):
        found = dashboard_collect(span="week", now=now)
        first = fetched()
        again = dashboard_collect(span="week", now=now)
        cached = fetched()
        ActivityRollup.objects.create(pk=1, rolled_until=hour_floor(now), rolled_at=now)  # a tick wrote
        dashboard_collect(span="week", now=now)
        after_tick = fetched()
    assert again == found
    assert cached == 0  # the sums come from the cache until the rollup writes again
    # 2 bots x 3 plugins: 22 hours of the last day one by one, the 6 days before by 6 hours.
    assert len(rows) == 996
    assert first == after_tick == 6 * (22 + 24)
    current = hour_floor(now)
    for line in found.plugins:
        mine = [row for row in rows if row.plugin == line.name]
        assert line.windows.week.invocations == sum(row.invocations for row in mine)
        assert line.windows.day.messages_in == sum(row.messages_in for row in mine if row.hour > current - 24 * H)
        assert line.windows.week.faults == sum(row.faults for row in mine)
        latency = [sum(counts) for counts in zip(*(row.latency for row in mine), strict=True)]
        assert (line.windows.week.p50, line.windows.week.p95) == (
            latency_text(bucket_quantile(0.5, latency)),
            latency_text(bucket_quantile(0.95, latency)),
        )
    for card in found.bots:
        mine = [row for row in rows if row.bot_id == card.pk]
        assert card.windows.week.messages_out == sum(row.messages_out for row in mine)
