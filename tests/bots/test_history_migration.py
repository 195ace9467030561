"""An install from before bots migrates without a step by hand: its history becomes its first bot's."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import override_settings

from bots.models import Bot, BotKey
from bots.services import FIRST_BOT, bot_identity_serve, bot_key_export
from bridge.identity import session_id_of
from broker.models import InboundMessage, OutboundMessage
from plugins.models import BotUser, Invocation, PermissionGrant
from tests.bots.conftest import WORDS

pytestmark = pytest.mark.django_db(transaction=True)

# The schema the code before bots made.
BEFORE = [
    ("plugins", "0008_model_names_translated"),
    ("broker", "0003_model_names_translated"),
    ("bots", "0001_initial"),
]
USER = "05" + "ab" * 32
EXTERNAL = "05" + "e7" * 32


def _migrate(targets: list[tuple[str, str]]):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest() -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture(autouse=True)
def _latest_schema_after():
    yield
    _latest()


def _history(old) -> None:
    """One conversation as the code before bots stored it."""
    user = old.get_model("plugins", "BotUser").objects.create(session_id=USER, language="es")
    plugin = old.get_model("plugins", "Plugin").objects.create(name="ping")
    old.get_model("plugins", "PermissionGrant").objects.create(plugin=plugin, user=user)
    inv = old.get_model("plugins", "Invocation").objects.create(key="msg:h1", user=user, conversation=USER)
    old.get_model("broker", "InboundMessage").objects.create(
        message_id="h1", sender=USER, conversation=USER, conversation_type="private", timestamp=1, invocation=inv
    )
    old.get_model("broker", "OutboundMessage").objects.create(ref="inv1-1", to=USER, text="pong", invocation=inv)


def _everything_belongs_to(bot: Bot) -> None:
    assert BotUser.objects.get().bot == bot
    assert Invocation.objects.get().bot == bot
    assert InboundMessage.objects.get().bot == bot
    assert OutboundMessage.objects.get().bot == bot
    assert PermissionGrant.objects.get().bot is None  # a grant from before bots holds with every bot


def test_todays_identity_becomes_the_first_bot_and_owns_the_history(settings, tmp_path: Path) -> None:
    old = _migrate(BEFORE)
    _history(old)
    (tmp_path / "session_mnemonic").write_text(WORDS + "\n", encoding="utf-8")
    with override_settings(DATA_DIR=tmp_path, SESSION_MNEMONIC=""):
        _latest()
        bot = Bot.objects.get()
        assert (bot.name, bot.session_id) == (FIRST_BOT, session_id_of(WORDS))
        _everything_belongs_to(bot)
        assert bot_key_export(name=FIRST_BOT) == WORDS  # sealed, and opens for its bridge


def test_an_external_bridges_identity_becomes_the_first_bot(tmp_path: Path) -> None:
    old = _migrate(BEFORE)
    _history(old)
    old.get_model("broker", "BridgeStatus").objects.create(bot_id=EXTERNAL, connected=False)
    with override_settings(DATA_DIR=tmp_path, SESSION_MNEMONIC=""):
        _latest()
    bot = Bot.objects.get()
    assert (bot.name, bot.session_id) == (FIRST_BOT, EXTERNAL)
    assert not BotKey.objects.exists()  # its bridge holds the words
    _everything_belongs_to(bot)
    assert not (tmp_path / "session_mnemonic").exists()  # no identity made up beside it


def test_a_bot_made_before_the_migration_owns_the_history(tmp_path: Path) -> None:
    old = _migrate(BEFORE)
    _history(old)
    old.get_model("bots", "Bot").objects.create(name="prod", session_id=EXTERNAL)
    with override_settings(DATA_DIR=tmp_path, SESSION_MNEMONIC=""):
        _latest()
    bot = Bot.objects.get()
    assert bot.name == "prod"
    _everything_belongs_to(bot)


def test_an_empty_install_gets_no_bot_from_the_migration(tmp_path: Path) -> None:
    _migrate(BEFORE)
    with override_settings(DATA_DIR=tmp_path, SESSION_MNEMONIC=""):
        _latest()
    assert not Bot.objects.exists()


def test_a_first_bot_migrated_without_a_key_gets_it_when_its_bridge_starts(tmp_path: Path) -> None:
    old = _migrate(BEFORE)
    _history(old)
    (tmp_path / "session_mnemonic").write_text(WORDS + "\n", encoding="utf-8")
    with override_settings(DATA_DIR=tmp_path, SESSION_MNEMONIC="", PLUGIN_SECRETS_KEY=""):
        _latest()
    assert not BotKey.objects.exists()  # no key to seal it with at the time
    with override_settings(DATA_DIR=tmp_path, SESSION_MNEMONIC=""):
        served = bot_identity_serve(name=None)
    assert (served.name, served.words) == (FIRST_BOT, WORDS)
