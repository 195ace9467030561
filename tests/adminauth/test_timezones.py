"""The admin's times in the operator's time zone: the browser's when it names one, else TIME_ZONE."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client

from adminauth.timezones import browser_zone
from plugins.models import Plugin


@pytest.mark.parametrize(
    ("cookie", "zone"),
    [
        ("Europe/Madrid", "Europe/Madrid"),
        ("America%2FNew_York", "America/New_York"),
        ("Asia/Shanghai", "Asia/Shanghai"),
        ("", None),
        (None, None),
        ("Mars/Olympus", None),
        ("../../etc/passwd", None),
        ("A" * 200, None),
    ],
)
def test_it_takes_the_browsers_zone_only_when_it_is_a_known_one(cookie: str | None, zone: str | None) -> None:
    found = browser_zone(cookie)
    assert (found.key if found else None) == zone


def _page(client: Client, plugin: Plugin) -> str:
    return client.get(f"/admin/plugins/plugin/{plugin.pk}/change/").content.decode()


def test_the_admin_shows_times_in_the_browsers_zone_else_in_time_zone(admin_user, settings) -> None:
    settings.TIME_ZONE = "Asia/Tokyo"
    plugin = Plugin.objects.create(name="clock")
    Plugin.objects.filter(pk=plugin.pk).update(last_success_at=datetime(2026, 1, 15, 12, 30, tzinfo=UTC))
    client = Client()
    client.force_login(admin_user)
    assert "9:30 p.m." in _page(client, plugin)  # Tokyo, UTC+9
    client.cookies["tz"] = "America/New_York"
    assert "7:30 a.m." in _page(client, plugin)  # New York in January, UTC-5
    client.cookies["tz"] = "Nowhere/Special"
    assert "9:30 p.m." in _page(client, plugin)


def test_every_admin_page_asks_the_browser_for_its_zone(admin_user) -> None:
    client = Client()
    client.force_login(admin_user)
    page = client.get("/admin/plugins/plugin/").content.decode()
    assert "Intl.DateTimeFormat().resolvedOptions().timeZone" in page
    assert 'document.cookie = "tz="' in page
