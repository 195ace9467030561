"""``manage.py bots``: every action on the real database, and the identity kept secret."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from bots.models import Bot, BotKey
from bots.services import bot_first_ensure
from tests.bots.conftest import SESSION_ID, WORDS

pytestmark = pytest.mark.django_db


def bots(*args: str, stdin: str | None = None) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    extra = {"stdin": io.StringIO(stdin)} if stdin is not None else {}
    call_command("bots", *args, stdout=out, stderr=err, **extra)
    return out.getvalue(), err.getvalue()


def test_imported_words_give_their_session_id() -> None:
    out, _err = bots("add", "help", "--display-name", "Help desk", "--mnemonic-stdin", stdin=WORDS + "\n")
    assert SESSION_ID in out
    bot = Bot.objects.get(name="help")
    assert (bot.session_id, bot.display_name, bot.enabled) == (SESSION_ID, "Help desk", True)
    assert WORDS not in out


def test_a_bot_added_without_words_gets_a_new_identity_that_exports() -> None:
    out, _err = bots("add", "family")
    bot = Bot.objects.get(name="family")
    assert bot.session_id in out
    words, warning = bots("export-key", "family")
    assert "Warning" in warning
    assert len(words.split()) == 13
    session_id = bot.session_id
    bots("remove", "family")
    bots("add", "copy", "--mnemonic-stdin", stdin=words)
    assert Bot.objects.get(name="copy").session_id == session_id


def test_the_same_identity_cannot_be_two_bots() -> None:
    bots("add", "one", "--mnemonic-stdin", stdin=WORDS)
    with pytest.raises(CommandError, match="already exists"):
        bots("add", "two", "--mnemonic-stdin", stdin=WORDS)


def test_bad_words_are_refused_without_repeating_them() -> None:
    with pytest.raises(CommandError) as caught:
        bots("add", "bad", "--mnemonic-stdin", stdin="correct horse battery staple")
    assert "staple" not in str(caught.value)
    assert not Bot.objects.exists()


def test_a_name_must_be_a_slug() -> None:
    with pytest.raises(CommandError):
        bots("add", "not a slug")
    assert not Bot.objects.exists()


def test_the_database_holds_the_words_sealed() -> None:
    bots("add", "help", "--mnemonic-stdin", stdin=WORDS)
    with connection.cursor() as cursor:
        cursor.execute("SELECT key_sealed FROM bots_botkey")
        (stored,) = cursor.fetchone()
    assert WORDS.split()[0] not in stored
    assert stored.startswith("gAAAA")  # a Fernet token


def test_enable_disable_and_list() -> None:
    bots("add", "help", "--mnemonic-stdin", stdin=WORDS)
    bots("disable", "help")
    assert not Bot.objects.get(name="help").enabled
    out, _err = bots("list")
    assert "help" in out
    assert SESSION_ID in out
    assert "disabled" in out
    bots("enable", "help")
    assert Bot.objects.get(name="help").enabled
    assert "enabled" in bots("list")[0]


def test_an_unknown_bot_is_named() -> None:
    with pytest.raises(CommandError, match="No bot is named ghost"):
        bots("enable", "ghost")


def test_remove_deletes_the_identity_and_says_so() -> None:
    bots("add", "help", "--mnemonic-stdin", stdin=WORDS)
    out, _err = bots("remove", "help")
    assert "gone unless you exported it" in out
    assert not Bot.objects.filter(removed_at__isnull=True).exists()
    assert not BotKey.objects.exists()
    bots("add", "help", "--mnemonic-stdin", stdin=WORDS)
    bots("remove", "help", "--purge", "--yes")
    assert Bot.objects.count() == 1  # the first one, removed; the second purged


def test_export_key_prints_the_words_alone_on_stdout() -> None:
    bots("add", "help", "--mnemonic-stdin", stdin=WORDS)
    out, err = bots("export-key", "help")
    assert out.strip() == WORDS
    assert WORDS not in err


def _dump(*args: str) -> str:
    out = io.StringIO()
    call_command("dumpdata", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_dumpdata_leaves_the_bot_key_out_unless_asked() -> None:
    bots("add", "help", "--mnemonic-stdin", stdin=WORDS)
    models = {row["model"] for row in json.loads(_dump("bots"))}
    assert models == {"bots.bot"}
    assert "bots.botkey" not in {row["model"] for row in json.loads(_dump())}
    asked = _dump("bots", "--secrets")
    assert "bots.botkey" in {row["model"] for row in json.loads(asked)}
    assert WORDS.split()[0] not in asked  # and even then, sealed


def test_the_first_bot_keeps_an_existing_identity_file(bots_setup, settings) -> None:
    (bots_setup / "session_mnemonic").write_text(WORDS + "\n")
    settings.CLIENT_NAME = "Old bot"
    bot = bot_first_ensure()
    assert bot is not None
    assert (bot.name, bot.session_id, bot.display_name) == ("main", SESSION_ID, "Old bot")
    assert bots("export-key", "main")[0].strip() == WORDS
    assert (bots_setup / "session_mnemonic").exists()  # the operator's copy stays
    assert bot_first_ensure() is None


def test_the_first_bot_takes_session_mnemonic(settings) -> None:
    settings.SESSION_MNEMONIC = WORDS
    bot = bot_first_ensure()
    assert bot is not None
    assert bot.session_id == SESSION_ID


def test_the_first_bot_gets_a_new_identity_when_there_is_none(bots_setup) -> None:
    bot = bot_first_ensure()
    assert bot is not None
    assert bot.name == "main"
    assert (bots_setup / "session_mnemonic").exists()  # as before bots: the file is made once


def test_no_first_bot_is_made_when_one_exists(bots_setup) -> None:
    bots("add", "help", "--mnemonic-stdin", stdin=WORDS)
    assert bot_first_ensure() is None
    assert list(Bot.objects.values_list("name", flat=True)) == ["help"]
    assert not (bots_setup / "session_mnemonic").exists()


def test_rekey_moves_the_identities_to_the_new_key(settings) -> None:
    bots("add", "help", "--mnemonic-stdin", stdin=WORDS)
    old = settings.PLUGIN_SECRETS_KEY
    new = "a-new-key-of-more-than-thirty-two-characters"
    settings.PLUGIN_SECRETS_KEY = f"{new},{old}"
    out, _err = bots("rekey")
    assert "1 bot identity" in out
    settings.PLUGIN_SECRETS_KEY = new  # the old key dropped
    assert bots("export-key", "help")[0].strip() == WORDS


def test_an_identity_under_a_lost_key_is_named_not_shown(settings) -> None:
    bots("add", "help", "--mnemonic-stdin", stdin=WORDS)
    settings.PLUGIN_SECRETS_KEY = "another-key-of-more-than-thirty-two-characters"
    with pytest.raises(CommandError, match="bot help cannot be decrypted"):
        bots("export-key", "help")
