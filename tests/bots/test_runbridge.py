"""``manage.py runbridge`` chooses the bot it serves, and refuses one it must not serve."""

from __future__ import annotations

import io

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from bots.models import Bot
from bots.services import bot_add, bot_disable, bot_identity_serve, bot_key_export
from broker.management.commands.runbridge import bridge_state_dir
from tests.bots.conftest import SESSION_ID, WORDS

pytestmark = pytest.mark.django_db


def runbridge(*args: str) -> None:
    call_command("runbridge", "--no-qr", "--broker-url", "ws://127.0.0.1:9/ws/bridge/", *args, stdout=io.StringIO())


def test_an_unknown_bot_is_refused() -> None:
    with pytest.raises(CommandError, match="No bot is named ghost"):
        runbridge("--bot", "ghost")


def test_a_disabled_bot_is_refused() -> None:
    bot_add(name="help", words=WORDS)
    bot_disable(name="help")
    with pytest.raises(CommandError, match="help is disabled"):
        runbridge("--bot", "help")


def test_every_bot_disabled_is_refused_without_a_name() -> None:
    bot_add(name="help", words=WORDS)
    bot_disable(name="help")
    with pytest.raises(CommandError, match="Every bot is disabled"):
        runbridge()


def test_session_mnemonic_of_another_identity_is_refused(settings) -> None:
    bot_add(name="help", words=WORDS)
    bot_add(name="other", words=None)
    settings.SESSION_MNEMONIC = bot_key_export(name="other")
    with pytest.raises(CommandError, match="SESSION_MNEMONIC is the identity") as caught:
        runbridge("--bot", "help")
    assert settings.SESSION_MNEMONIC.split()[0] not in str(caught.value)


def test_the_named_bot_is_served_and_the_first_enabled_one_without_a_name() -> None:
    bot_add(name="help", words=WORDS, display_name="Help")
    other = bot_add(name="family", words=None)
    assert bot_identity_serve(name="family").session_id == other.session_id
    assert bot_identity_serve(name=None).session_id == SESSION_ID
    bot_disable(name="help")
    assert bot_identity_serve(name=None).session_id == other.session_id


def test_without_bots_the_existing_identity_becomes_the_served_bot(tmp_path) -> None:
    (tmp_path / "session_mnemonic").write_text(WORDS + "\n")
    served = bot_identity_serve(name=None)
    assert (served.name, served.session_id, served.words) == ("main", SESSION_ID, WORDS)


def test_the_first_bot_keeps_the_bridge_state_of_before_and_others_get_their_own(tmp_path) -> None:
    assert bridge_state_dir("main") == tmp_path / "bridge-state"
    assert bridge_state_dir("help") != bridge_state_dir("family")


def test_the_bots_polling_settings_apply_to_its_bridge() -> None:
    bot = bot_add(name="help", words=WORDS)
    Bot.objects.filter(pk=bot.pk).update(settings={"polling": {"idle_interval_seconds": 30}})
    served = bot_identity_serve(name="help")
    assert served.config.polling.idle_interval_seconds == 30
    assert served.config.chunk_size == settings.BOT_CONFIG.chunk_size
