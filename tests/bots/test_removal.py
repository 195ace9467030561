"""Removing a bot keeps its history and frees its name and identity; purging deletes it all."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from bots.live import bot_of_bridge
from bots.models import Bot, BotKey
from bots.services import BotError, bot_add, bot_enable, bot_first_ensure, bot_remove, bots_enable
from broker.bridges import bridge_connected
from broker.models import InboundMessage, OutboundMessage
from plugins.models import BotUser, Invocation
from tests.bots.conftest import SESSION_ID, WORDS
from tests.bots.history import history_add

pytestmark = pytest.mark.django_db


def bots(*args: str, stdin: str | None = None) -> str:
    out = io.StringIO()
    extra = {"stdin": io.StringIO(stdin)} if stdin is not None else {}
    call_command("bots", *args, stdout=out, stderr=io.StringIO(), **extra)
    return out.getvalue()


def history_rows() -> tuple[int, int, int, int]:
    return (
        InboundMessage.objects.count(),
        OutboundMessage.objects.count(),
        BotUser.objects.count(),
        Invocation.objects.count(),
    )


def test_remove_keeps_the_history_and_deletes_the_identity() -> None:
    bot = bot_add(name="help", words=WORDS)
    history_add(bot)
    out = bots("remove", "help")
    assert "its history stays" in out
    assert "gone unless you exported it" in out
    removed = Bot.objects.get(pk=bot.pk)
    assert removed.removed_at is not None
    assert not removed.enabled
    assert not BotKey.objects.exists()
    assert history_rows() == (1, 2, 1, 1)
    assert set(InboundMessage.objects.values_list("bot", flat=True)) == {bot.pk}


def test_a_removed_bots_name_and_identity_are_free_for_a_new_bot() -> None:
    old = bot_add(name="help", words=WORDS)
    history_add(old)
    bot_remove(name="help")
    new = bot_add(name="help", words=WORDS)
    assert new.pk != old.pk
    assert new.session_id == SESSION_ID
    assert InboundMessage.objects.get().bot_id == old.pk  # the old history stays the old bot's
    with pytest.raises(BotError, match="already exists"):
        bot_add(name="help", words=None)


def test_list_hides_removed_bots_unless_all() -> None:
    bot_add(name="help", words=WORDS)
    bot_add(name="family", words=None)
    bots("remove", "help")
    listed = bots("list")
    assert "family" in listed
    assert "help" not in listed
    everything = bots("list", "--all")
    assert "help" in everything
    assert "removed" in everything


def test_a_removed_bot_cannot_be_enabled() -> None:
    bot = bot_add(name="help", words=WORDS)
    bot_remove(name="help")
    with pytest.raises(BotError, match="was removed"):
        bot_enable(name="help")
    with pytest.raises(CommandError, match="was removed"):
        bots("enable", "help")
    assert bots_enable(names=["help"], enabled=True) == 0
    assert not Bot.objects.get(pk=bot.pk).enabled


def test_a_removed_bots_bridge_is_refused_and_not_registered_again() -> None:
    bot = bot_add(name="help", words=WORDS)
    bot_remove(name="help")
    found = bot_of_bridge(SESSION_ID)
    assert (found.pk, found.removed, found.enabled) == (bot.pk, True, False)
    hello = bridge_connected(bot_id=SESSION_ID, client="tests/1")
    assert hello.denied_code == "bot_removed"
    assert "was removed" in hello.denied
    assert hello.close_code == 4403
    assert Bot.objects.count() == 1


def test_a_bridge_of_a_removed_identity_added_again_serves_the_new_bot() -> None:
    bot_add(name="help", words=WORDS)
    bot_remove(name="help")
    new = bot_add(name="help2", words=WORDS)
    assert bot_of_bridge(SESSION_ID).pk == new.pk
    hello = bridge_connected(bot_id=SESSION_ID, client="tests/1")
    assert (hello.denied, hello.refused, hello.bot) == ("", False, new.pk)


def test_purge_deletes_the_bot_and_its_whole_history_after_confirmation() -> None:
    keep = bot_add(name="family", words=None)
    history_add(keep)
    bot = bot_add(name="help", words=WORDS)
    history_add(bot)
    history_add(bot)
    out = bots("remove", "help", "--purge", stdin="help\n")
    assert "deletes for good" in out
    assert "purged" in out
    assert "2 inbound messages" in out
    assert "4 outbound messages" in out
    assert "2 invocations" in out
    assert "1 bot user" in out
    assert not Bot.objects.filter(pk=bot.pk).exists()
    assert history_rows() == (1, 2, 1, 1)  # the other bot's history only


def test_purge_without_the_name_typed_deletes_nothing() -> None:
    bot = bot_add(name="help", words=WORDS)
    history_add(bot)
    with pytest.raises(CommandError, match="Not purged"):
        bots("remove", "help", "--purge", stdin="yes\n")
    assert Bot.objects.get(pk=bot.pk).removed_at is None
    assert history_rows() == (1, 2, 1, 1)


def test_purge_with_yes_asks_nothing() -> None:
    bot = bot_add(name="help", words=WORDS)
    history_add(bot)
    out = bots("remove", "help", "--purge", "--yes")
    assert "Type the bot's name" not in out
    assert "rows deleted" in out
    assert history_rows() == (0, 0, 0, 0)


def test_a_removed_bot_is_purged_by_name_or_session_id() -> None:
    bot = bot_add(name="help", words=WORDS)
    history_add(bot)
    bot_remove(name="help")
    bots("remove", SESSION_ID, "--purge", "--yes")
    assert not Bot.objects.exists()
    assert history_rows() == (0, 0, 0, 0)


def test_two_removed_bots_of_one_name_need_the_session_id() -> None:
    bot_add(name="help", words=WORDS)
    bot_remove(name="help")
    other = bot_add(name="help", words=None)
    bot_remove(name="help")
    with pytest.raises(CommandError, match="Session ID"):
        bots("remove", "help", "--purge", "--yes")
    bots("remove", other.session_id, "--purge", "--yes")
    assert list(Bot.objects.values_list("session_id", flat=True)) == [SESSION_ID]


def test_a_removed_first_bot_does_not_get_its_key_back_at_the_next_start(settings, tmp_path) -> None:
    # The first bot's key is filled in from today's identity when a migration could not seal
    # it; a first bot removed on purpose must keep its key deleted.
    (tmp_path / "session_mnemonic").write_text(WORDS + "\n")
    settings.DATA_DIR, settings.SESSION_MNEMONIC = tmp_path, ""
    bot_add(name="main", words=WORDS)
    bot_remove(name="main")
    bot_add(name="other", words=None)
    bot_first_ensure()
    assert not BotKey.objects.filter(bot__name="main").exists()
