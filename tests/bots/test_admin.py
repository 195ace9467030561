"""The bots in the admin: added with imported or new words that no page shows again."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from bots.models import Bot, BotKey
from bots.services import bot_add, bot_key_export, bot_remove
from broker.models import InboundMessage
from tests.bots.conftest import SESSION_ID, WORDS
from tests.bots.history import USER, history_add

pytestmark = pytest.mark.django_db

ADD = reverse("admin:bots_bot_add")
LIST = reverse("admin:bots_bot_changelist")


def _change(bot: Bot) -> str:
    return reverse("admin:bots_bot_change", args=[bot.pk])


def test_a_bot_added_with_words_has_their_session_id_and_no_page_shows_them(admin_client) -> None:
    response = admin_client.post(ADD, {"name": "help", "display_name": "Help desk", "mnemonic": WORDS}, follow=True)
    assert response.status_code == 200
    bot = Bot.objects.get(name="help")
    assert (bot.session_id, bot.display_name) == (SESSION_ID, "Help desk")
    assert bot_key_export(name="help") == WORDS
    for url in (LIST, _change(bot), ADD):
        page = admin_client.get(url).content.decode()
        assert WORDS.split()[3] not in page, url
    assert WORDS.split()[3] not in response.content.decode()


def test_a_bot_added_without_words_gets_a_new_identity(admin_client) -> None:
    admin_client.post(ADD, {"name": "family", "display_name": "", "mnemonic": ""})
    bot = Bot.objects.get(name="family")
    assert bot.session_id.startswith("05")
    assert len(bot_key_export(name="family").split()) == 13


def test_bad_words_are_refused_and_not_echoed(admin_client) -> None:
    response = admin_client.post(ADD, {"name": "bad", "mnemonic": "correct horse battery staple"})
    page = response.content.decode()
    assert response.status_code == 200  # the form again, with the error
    assert "not a valid 13-word Session mnemonic" in page
    assert "staple" not in page
    assert not Bot.objects.exists()


def test_an_identity_already_served_is_refused(admin_client) -> None:
    bot_add(name="help", words=WORDS)
    response = admin_client.post(ADD, {"name": "again", "mnemonic": WORDS})
    assert "exists already" in response.content.decode()
    assert Bot.objects.count() == 1


def test_the_change_page_shows_the_session_id_as_a_qr_code_and_as_text(admin_client) -> None:
    bot = bot_add(name="help", words=WORDS)
    page = admin_client.get(_change(bot)).content.decode()
    assert '<img class="session-id-qr" src="data:image/png;base64,' in page
    assert f'value="{SESSION_ID}"' in page
    assert WORDS.split()[3] not in page


def test_the_list_shows_each_bot_and_the_actions_switch_them(admin_client) -> None:
    bot = bot_add(name="help", words=WORDS, display_name="Help desk")
    page = admin_client.get(LIST).content.decode()
    assert "help" in page
    assert SESSION_ID in page
    assert "Help desk" in page
    admin_client.post(LIST, {"action": "disable", "_selected_action": [bot.pk]})
    assert not Bot.objects.get(pk=bot.pk).enabled
    admin_client.post(LIST, {"action": "enable", "_selected_action": [bot.pk]})
    assert Bot.objects.get(pk=bot.pk).enabled


def test_settings_are_checked_as_config_yaml_is(admin_client) -> None:
    bot = bot_add(name="help", words=WORDS)
    form = {
        "display_name": "Help",
        "enabled": "on",
        "settings": '{"command_prefix": ""}',
        "offers-TOTAL_FORMS": "0",
        "offers-INITIAL_FORMS": "0",
    }
    response = admin_client.post(_change(bot), form)
    assert "command_prefix" in response.content.decode()
    assert Bot.objects.get(pk=bot.pk).settings == {}
    admin_client.post(_change(bot), {**form, "settings": '{"command_prefix": "!"}'})
    assert Bot.objects.get(pk=bot.pk).settings == {"command_prefix": "!"}


def test_deleting_a_bot_removes_it_and_keeps_its_history(admin_client) -> None:
    bot = bot_add(name="help", words=WORDS)
    history_add(bot)
    page = admin_client.get(reverse("admin:bots_bot_delete", args=[bot.pk])).content.decode()
    assert "keeps its history" in page
    assert USER[:10] not in page  # its messages and users are not listed as going
    admin_client.post(reverse("admin:bots_bot_delete", args=[bot.pk]), {"post": "yes"})
    removed = Bot.objects.get(pk=bot.pk)
    assert removed.removed_at is not None
    assert not removed.enabled
    assert not BotKey.objects.exists()
    assert InboundMessage.objects.filter(bot=bot).count() == 1


def test_deleting_selected_bots_removes_them(admin_client) -> None:
    bot = bot_add(name="help", words=WORDS)
    history_add(bot)
    page = admin_client.post(LIST, {"action": "delete_selected", "_selected_action": [bot.pk]}).content.decode()
    assert "keeps its history" in page
    admin_client.post(LIST, {"action": "delete_selected", "_selected_action": [bot.pk], "post": "yes"})
    assert Bot.objects.get(pk=bot.pk).removed_at is not None
    assert InboundMessage.objects.filter(bot=bot).count() == 1


def test_removed_bots_are_listed_only_when_filtered_and_cannot_be_changed(admin_client) -> None:
    bot_add(name="family", words=None)
    removed = bot_add(name="help", words=WORDS)
    bot_remove(name="help")
    page = admin_client.get(LIST).content.decode()
    assert "family" in page
    assert SESSION_ID not in page
    page = admin_client.get(LIST + "?removed=yes").content.decode()
    assert SESSION_ID in page
    assert ">family<" not in page
    assert "family" in admin_client.get(LIST + "?removed=all").content.decode()
    assert "Messages received" in admin_client.get(_change(removed)).content.decode()  # its record stays readable
    form = {
        "display_name": "x",
        "enabled": "on",
        "settings": "{}",
        "offers-TOTAL_FORMS": "0",
        "offers-INITIAL_FORMS": "0",
    }
    assert admin_client.post(_change(removed), form).status_code == 403
    assert not Bot.objects.get(pk=removed.pk).enabled
    admin_client.post(LIST + "?removed=yes", {"action": "enable", "_selected_action": [removed.pk]})
    assert not Bot.objects.get(pk=removed.pk).enabled


def test_the_purge_action_asks_then_deletes_the_bot_and_its_history(admin_client) -> None:
    keep = bot_add(name="family", words=None)
    history_add(keep)
    bot = bot_add(name="help", words=WORDS)
    history_add(bot)
    asked = admin_client.post(LIST, {"action": "purge", "_selected_action": [bot.pk]})
    page = asked.content.decode()
    assert "Purging deletes these bots" in page
    assert "Inbound messages: 1" in page
    assert "Outbound messages: 2" in page
    assert Bot.objects.filter(pk=bot.pk).exists()  # nothing gone yet
    done = admin_client.post(
        LIST, {"action": "purge", "_selected_action": [bot.pk], "confirm": "yes"}, follow=True
    ).content.decode()
    assert "rows deleted" in done
    assert not Bot.objects.filter(pk=bot.pk).exists()
    assert list(InboundMessage.objects.values_list("bot", flat=True)) == [keep.pk]


def test_a_removed_bot_is_purged_from_the_removed_filter(admin_client) -> None:
    bot = bot_add(name="help", words=WORDS)
    history_add(bot)
    bot_remove(name="help")
    admin_client.post(LIST + "?removed=yes", {"action": "purge", "_selected_action": [bot.pk], "confirm": "yes"})
    assert not Bot.objects.exists()
    assert not InboundMessage.objects.exists()


def test_the_sealed_keys_have_no_admin_page() -> None:
    assert Bot in admin.site._registry
    assert BotKey not in admin.site._registry
