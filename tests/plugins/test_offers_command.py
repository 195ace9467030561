"""``manage.py plugins offer``, ``withdraw`` and ``offers``: which plugins a bot offers, with which policy."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from bots.models import Bot
from plugins.models import BotPlugin, Plugin, Policy
from plugins.offers import bot_offers, bot_offers_plugin

pytestmark = pytest.mark.django_db


def plugins(*args: str) -> str:
    out = io.StringIO()
    call_command("plugins", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def setup() -> dict[str, object]:
    return {
        "help": Bot.objects.create(name="help", session_id="05" + "b0" * 32),
        "family": Bot.objects.create(name="family", session_id="05" + "c1" * 32),
        "ping": Plugin.objects.create(name="ping"),
        "weather": Plugin.objects.create(name="weather", default_policy=Policy.LISTED),
        "dice": Plugin.objects.create(name="dice", enabled=False),
    }


def test_a_bot_that_names_no_plugin_offers_every_one(setup) -> None:
    assert "offers every enabled plugin" in plugins("offers", "help")


def test_offer_makes_the_bot_offer_those_only_and_not_the_other_bot(setup) -> None:
    out = plugins("offer", "family", "ping", "weather")
    assert "offers these plugins only" in out
    assert "ping" in out
    assert "listed (the plugin's)" in out
    family, help_bot = setup["family"], setup["help"]
    assert bot_offers_plugin(bot=family.pk, plugin=setup["ping"].pk)
    assert not bot_offers_plugin(bot=family.pk, plugin=setup["dice"].pk)
    assert bot_offers_plugin(bot=help_bot.pk, plugin=setup["dice"].pk)  # help names none


def test_a_policy_is_the_bots_own_and_default_resets_it(setup) -> None:
    plugins("offer", "family", "weather", "--policy", "admins")
    assert bot_offers(bot=setup["family"].pk).policies == {setup["weather"].pk: "admins"}
    assert "admins" in plugins("offers", "family")
    plugins("offer", "family", "weather")  # no --policy: keeps it
    assert BotPlugin.objects.get().policy == "admins"
    plugins("offer", "family", "weather", "--policy", "default")
    assert BotPlugin.objects.get().policy == ""


def test_withdraw_removes_an_offer_and_the_last_one_offers_everything_again(setup) -> None:
    plugins("offer", "family", "ping", "weather")
    out = plugins("withdraw", "family", "ping")
    assert "offers these plugins only" in out
    assert "ping" not in out
    assert "offers every enabled plugin" in plugins("withdraw", "family", "weather")
    assert not BotPlugin.objects.exists()


def test_a_disabled_plugin_offered_is_said_to_be_disabled(setup) -> None:
    assert "(plugin disabled)" in plugins("offer", "family", "dice")


def test_unknown_bots_and_plugins_are_named(setup) -> None:
    with pytest.raises(CommandError, match="No bot is named ghost"):
        plugins("offer", "ghost", "ping")
    with pytest.raises(CommandError, match="No plugin is named nosuch"):
        plugins("offer", "family", "ping", "nosuch")
    assert not BotPlugin.objects.exists()
