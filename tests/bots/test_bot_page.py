"""A bot's admin page: its bridge, its messages and plugin runs, and the plugins it offers."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bots.models import Bot
from bots.panels import bot_panels
from bots.services import bot_add
from broker.models import BridgeStatus, OutboundMessage
from plugins.models import BotPlugin, BotUser, PermissionGrant, Plugin
from tests.bots.conftest import SESSION_ID, WORDS
from tests.bots.history import history_add

pytestmark = pytest.mark.django_db

LIST = reverse("admin:bots_bot_changelist")


def _change(bot: Bot) -> str:
    return reverse("admin:bots_bot_change", args=[bot.pk])


@pytest.fixture
def bot() -> Bot:
    return bot_add(name="help", words=WORDS)


def test_the_page_shows_the_bridge_its_last_poll_and_its_error_counters(admin_client, bot: Bot) -> None:
    now = timezone.now()
    BridgeStatus.objects.create(
        bot_id=SESSION_ID,
        connected=True,
        connected_at=now - timedelta(minutes=5),
        last_seen=now,
        status={"polling": True, "last_poll_at": int((time.time() - 42) * 1000), "errors": {"poll": 3, "send": 1}},
    )
    page = admin_client.get(_change(bot)).content.decode()
    assert "connected for 5m" in page
    assert "42s ago" in page
    assert "poll 3, send 1" in page


def test_a_bridge_that_never_connected_says_so(admin_client, bot: Bot) -> None:
    assert "never connected" in admin_client.get(_change(bot)).content.decode()


def test_the_page_counts_messages_replies_failures_and_pending_sends(admin_client, bot: Bot) -> None:
    history_add(bot)
    history_add(bot, ago=timedelta(days=3), failed=True)
    OutboundMessage.objects.create(bot=bot, ref="f1", to="05" + "c3" * 32, text="x", status="failed")
    other = bot_add(name="family", words=None)
    history_add(other)  # another bot's history counts for it only
    rows = dict(row for _title, section in bot_panels(bot) for row in section)
    assert rows["Messages received"] == "1 in 24 h · 2 in all"
    assert rows["Replies sent"] == "1 in 24 h · 2 in all"
    assert rows["Sends failed"] == "1 in 24 h · 1 in all"
    assert rows["Sends pending"] == "2"
    assert rows["Plugin runs"] == "1 in 24 h · 2 in all"
    assert rows["Plugin runs failed"] == "0 in 24 h · 1 in all"
    assert rows["Users"] == "1"
    assert rows["Plugins offered"] == "every enabled plugin"
    page = admin_client.get(_change(bot)).content.decode()
    assert "Messages received" in page
    assert "1 in 24 h · 2 in all" in page


def test_the_list_shows_each_bots_activity_in_the_same_queries_for_one_bot_or_many(admin_client, bot: Bot) -> None:
    history_add(bot)
    with CaptureQueriesContext(connection) as one:
        page = admin_client.get(LIST).content.decode()
    assert "never connected · 1 received in 24 h" in page
    for n in range(5):
        history_add(bot_add(name=f"bot{n}", words=None), failed=True)
    with CaptureQueriesContext(connection) as six:
        page = admin_client.get(LIST).content.decode()
    assert "1 plugin runs failed in 24 h" in page
    assert len(six.captured_queries) == len(one.captured_queries)


def test_the_bot_page_chooses_its_plugins_and_their_policies(admin_client, bot: Bot) -> None:
    weather = Plugin.objects.create(name="weather")
    form = {
        "display_name": "",
        "enabled": "on",
        "settings": '{"command_prefix": "!"}',
        "offers-TOTAL_FORMS": "1",
        "offers-INITIAL_FORMS": "0",
        "offers-0-plugin": str(weather.pk),
        "offers-0-policy": "admins",
    }
    response = admin_client.post(_change(bot), form)
    assert response.status_code == 302, response.content.decode()[:3000]
    offer = BotPlugin.objects.get()
    assert (offer.bot_id, offer.plugin_id, offer.policy) == (bot.pk, weather.pk, "admins")
    assert Bot.objects.get(pk=bot.pk).settings == {"command_prefix": "!"}
    rows = dict(row for _title, section in bot_panels(bot) for row in section)
    assert rows["Plugins offered"] == "weather (admins only)"


def test_the_plugin_page_lists_the_bots_that_offer_it(admin_client, bot: Bot) -> None:
    weather = Plugin.objects.create(name="weather")
    BotPlugin.objects.create(bot=bot, plugin=weather, policy="listed")
    page = admin_client.get(reverse("admin:plugins_plugin_change", args=[weather.pk])).content.decode()
    assert "Bots that offer it" in page
    assert f'<option value="{bot.pk}" selected>help</option>' in page


@pytest.mark.parametrize(
    "admin_name", ["broker_inboundmessage", "broker_outboundmessage", "plugins_invocation", "plugins_botuser"]
)
def test_the_history_lists_name_and_filter_by_bot(admin_client, bot: Bot, admin_name: str) -> None:
    history_add(bot)
    other = bot_add(name="family", words=None)
    history_add(other)
    url = reverse(f"admin:{admin_name}_changelist")
    assert ">family<" in admin_client.get(url).content.decode()
    page = admin_client.get(url, {"bot__id__exact": bot.pk}).content.decode()
    results = page.split('id="result_list"')[1].split("</table>")[0]
    assert ">help<" in results
    assert ">family<" not in results


def test_grants_list_their_bot(admin_client, bot: Bot) -> None:
    user = BotUser.objects.create(bot=bot, session_id="05" + "c3" * 32)
    PermissionGrant.objects.create(plugin=Plugin.objects.create(name="weather"), user=user, bot=bot)
    page = admin_client.get(reverse("admin:plugins_permissiongrant_changelist")).content.decode()
    assert ">help<" in page
    assert "bot__id__exact" in page  # the filter by bot
