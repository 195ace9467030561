"""What an operator reads on the admin's pages: no dead link, one "Groups", fields not JSON."""

from __future__ import annotations

import re

from django.test import Client

from broker.models import BridgeStatus, OutboundMessage
from plugins.models import Invocation
from tests.adminauth.adminseed import admin_rows_seed


def _client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_the_admin_has_no_view_site_link_and_one_entry_per_name(admin_user) -> None:
    # A list page: its side menu lists every model, whatever the front page shows.
    page = _client(admin_user).get("/admin/bots/bot/").content.decode()
    assert "View site" not in page
    names = re.findall(r'<th scope="row" id="[^"]+">\s*<a href="[^"]+"[^>]*>([^<]+)</a>', page)
    assert "Groups" in names
    assert "Bot user groups" in names
    assert len(names) == len(set(names)), names


def test_durations_and_the_bridge_status_read_as_people_read_them(admin_user) -> None:
    admin_rows_seed()
    client = _client(admin_user)
    invocation = Invocation.objects.get(key="seed-1")
    assert "571 ms" in client.get("/admin/plugins/invocation/").content.decode()
    detail = client.get(f"/admin/plugins/invocation/{invocation.pk}/change/").content.decode()
    assert "571 ms" in detail
    assert "571.42" not in detail

    bridge = BridgeStatus.objects.get()
    page = client.get(f"/admin/broker/bridgestatus/{bridge.pk}/change/").content.decode()
    assert "last_poll_at" not in page
    assert "{" not in re.sub(r"<(script|style)[^>]*>.*?</\1>", "", page, flags=re.S)
    for label in ("Polling", "Session network reachable", "Last poll", "Replies queued to send", "Errors"):
        assert f"{label}:" in page
    assert "poll 2" in page
    assert "local test network" in page


def test_session_timestamps_read_as_times_not_epoch_milliseconds(admin_user) -> None:
    admin_rows_seed()
    reply = OutboundMessage.objects.get(ref="seed-1:1")
    page = _client(admin_user).get(f"/admin/broker/outboundmessage/{reply.pk}/change/").content.decode()
    assert "1767225600000" not in page
    assert "Jan. 1, 2026, midnight" in page
