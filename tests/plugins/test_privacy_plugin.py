"""/mydata and /forgetme, and the plugins' forget hook, each plugin in its own host."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from broker.models import InboundMessage, OutboundMessage
from plugins.api import Storage
from plugins.forgetting import plugins_forget
from plugins.models import BotUser, Invocation, PluginVersion
from plugins.services import command_resolve, invocation_create, invocation_execute
from tests.broker.userrows import history
from tests.plugins.conftest import USER, ask, derive, install, user
from tests.thebot import the_bot

pytestmark = pytest.mark.django_db(transaction=True)

OTHER = "05" + "cd" * 32
GROUP = "03" + "ef" * 32


@pytest.fixture(autouse=True)
def plugins(plugin_roots, settings, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path / "data"
    derive(install("privacy", "sessionbot_builtin.privacy:Privacy", ["mydata", "forgetme"]))
    derive(install("remember", "fx_remember:Remember", ["remember", "recall"]))


def attachments(inv: Invocation) -> list[dict]:
    return [a for row in OutboundMessage.objects.filter(invocation=inv) for a in row.attachments]


def test_mydata_sums_up_and_attaches_everything_as_json() -> None:
    user(USER, language="es")
    history(bot=the_bot(), session_id=USER, at=timezone.now() - timedelta(hours=1), mid="m1")
    reply, inv = ask("/mydata", language="en")
    assert reply == (
        "What this bot keeps about you. Messages: 1, commands: 2, replies: 1, files: 1, language: es, grants: 0, "
        "groups: -. Their content is kept for 30 days at most. The attached file holds all of it; "
        "/forgetme erases it."
    )  # the second command is this /mydata, still running while it looks
    [file] = attachments(inv)
    assert (file["name"], file["content_type"]) == ("mydata.json", "application/json")
    data = json.loads(base64.b64decode(file["data_b64"]))
    assert data["bot"] == "tests"
    assert [m["text"] for m in data["messages"]["messages"]] == ["/echo secret words m1"]


def test_forgetme_asks_for_a_code_and_a_wrong_code_erases_nothing() -> None:
    history(bot=the_bot(), session_id=USER, at=timezone.now(), mid="m1")
    reply, _ = ask("/forgetme")
    assert re.fullmatch(
        r"This erases your messages, commands, replies, files, language, grants and groups with this bot\. "
        r"To confirm, send /forgetme \d{6} within 10 minutes\.",
        reply,
    )
    wrong, _ = ask("/forgetme 1234567")
    assert wrong == "That code is wrong or has expired. Send /forgetme to get a new one."
    assert InboundMessage.objects.get().text == "/echo secret words m1"


def test_forgetme_with_its_code_erases_this_users_data_only() -> None:
    mine = history(bot=the_bot(), session_id=USER, at=timezone.now(), mid="m1", data=b"mine")
    history(bot=the_bot(), session_id=OTHER, at=timezone.now(), mid="m2", data=b"theirs")
    ask("/remember swordfish")
    asked, _ = ask("/forgetme")
    code = re.search(r"/forgetme (\d{6})", asked)[1]  # type: ignore[index]
    done, inv = ask(f"/forgetme {code}")
    assert done == (
        "Done. Erased messages: 1, commands: 3, replies: 1, files: 1. "
        "This command and its answer are erased with the next purge."
    )
    assert InboundMessage.objects.get(message_id="m1").text == ""
    assert InboundMessage.objects.get(message_id="m2").text == "/echo secret words m2"
    assert not mine.file.exists()
    assert inv.status == "ok"
    # The code is used up.
    again, _ = ask(f"/forgetme {code}")
    assert again.startswith("That code is wrong or has expired.")


def test_the_forget_hook_erases_a_plugins_data_about_one_user_in_its_host() -> None:
    ask("/remember swordfish")
    ask("/remember marlin", sender=OTHER)
    assert plugins_forget(bot_id=the_bot().pk, session_id=USER) == 2  # remember and privacy
    assert ask("/recall")[0] == "nothing"
    assert ask("/recall", sender=OTHER)[0] == "marlin"


def test_the_forget_hook_runs_for_inline_plugins_too() -> None:
    PluginVersion.objects.filter(plugin__name="remember").update(isolation=PluginVersion.Isolation.INLINE)
    ask("/remember swordfish")
    assert plugins_forget(bot_id=the_bot().pk, session_id=USER) >= 1
    assert ask("/recall")[0] == "nothing"


def test_manage_py_userdata_erase_runs_the_plugins_hooks() -> None:
    ask("/remember swordfish")
    out = StringIO()
    call_command("userdata", "erase", USER, stdout=out)
    assert "plugins 2" in out.getvalue()
    assert ask("/recall")[0] == "nothing"
    assert BotUser.objects.filter(session_id=USER).exists()


@pytest.mark.parametrize("command", ["mydata", "forgetme"])
def test_in_a_group_the_commands_answer_only_to_go_private(command: str) -> None:
    history(bot=the_bot(), session_id=USER, at=timezone.now(), mid="m1")
    resolved = command_resolve(name=command)
    assert resolved is not None
    inv = invocation_create(
        key=f"group-{command}",
        user=user(USER),
        version=resolved.version,
        command=command,
        arguments="",
        conversation=GROUP,
        conversation_type="group",
        language="en",
    )
    invocation_execute(invocation_id=inv.pk)
    [reply] = OutboundMessage.objects.filter(invocation=inv)
    assert reply.text == f"Your data is yours alone: send /{command} in a private chat with the bot."
    assert reply.attachments == []


def test_a_code_nobody_confirmed_is_dropped_from_the_plugins_storage() -> None:
    ask("/forgetme", sender=OTHER)
    storage = Storage(Path(settings.PLUGIN_DATA_DIR) / "privacy" / "storage.sqlite3")
    assert storage.keys() == [f"forgetme:{OTHER}"]
    storage.set(f"forgetme:{OTHER}", {"code": "123456", "until": time.time() - 1})  # expired
    ask("/forgetme 000000")
    assert storage.keys() == []  # a wrong code sets nothing
