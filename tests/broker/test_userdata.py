"""manage.py userdata export|erase: one user's data, with one bot or with every bot."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from bots.models import Bot
from broker.models import InboundMessage, OutboundMessage
from plugins.models import BotGroup, BotUser, Invocation, PermissionGrant, Plugin
from tests.broker.userrows import history
from tests.thebot import the_bot

pytestmark = pytest.mark.django_db(transaction=True)

USER = "05" + "ab" * 32
OTHER = "05" + "cd" * 32


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path
    return tmp_path


@pytest.fixture
def family() -> Bot:
    return Bot.objects.create(name="family", session_id="05" + "c1" * 32)


def run(*args: str) -> str:
    out = StringIO()
    call_command("userdata", *args, stdout=out)
    return out.getvalue()


def test_export_is_json_of_every_bot_with_messages_invocations_replies_and_the_user(family) -> None:
    at = timezone.now() - timedelta(hours=1)
    history(bot=the_bot(), session_id=USER, at=at, mid="m1")
    history(bot=family, session_id=USER, at=at, mid="m2")
    history(bot=the_bot(), session_id=OTHER, at=at, mid="not-mine")
    found = json.loads(run("export", USER))
    assert found["session_id"] == USER
    assert [b["bot"] for b in found["bots"]] == ["family", "tests"]
    tests = found["bots"][1]
    assert [m["text"] for m in tests["messages"]["messages"]] == ["/echo secret words m1"]
    assert [r["text"] for r in tests["messages"]["replies"]] == ["secret words m1"]
    assert [i["arguments"] for i in tests["plugins"]["invocations"]] == ["secret words m1"]
    assert tests["plugins"]["user"]["language"] == "es"
    assert len(tests["files"]["files"]) == 1
    assert tests["content_days"] == 30


def test_export_of_one_bot_with_bot(family) -> None:
    history(bot=family, session_id=USER, at=timezone.now(), mid="m2")
    found = json.loads(run("export", USER, "--bot", "family"))
    assert [b["bot"] for b in found["bots"]] == ["family"]


def test_erase_with_one_bot_leaves_the_other_bots_data(family) -> None:
    at = timezone.now() - timedelta(hours=1)
    mine = history(bot=the_bot(), session_id=USER, at=at, mid="m1", data=b"mine")
    kept = history(bot=family, session_id=USER, at=at, mid="m2", data=b"family's")
    other = history(bot=the_bot(), session_id=OTHER, at=at, mid="not-mine", data=b"other")
    user = BotUser.objects.get(bot=the_bot(), session_id=USER)
    PermissionGrant.objects.create(plugin=Plugin.objects.get(name="echo"), user=user)
    BotGroup.objects.create(name="friends").members.add(user)
    BotUser.objects.filter(pk=user.pk).update(display_name="Alice", blocked=True)

    out = run("erase", USER, "--bot", "tests")

    assert out.strip() == "tests: erased files 1, grants 1, groups 1, invocations 1, messages 1, plugins 0, replies 1"
    inbound = InboundMessage.objects.get(pk=mine.inbound.pk)
    assert (inbound.text, inbound.sender, inbound.conversation, inbound.attachments) == ("", "", "", [])
    assert (inbound.message_id, inbound.status) == ("m1", "routed")  # the duplicate check and metrics
    inv = Invocation.objects.get(pk=mine.invocation.pk)
    assert (inv.arguments, inv.user_id, inv.conversation) == ("", None, "")
    assert (inv.status, inv.duration_ms, inv.command) == ("ok", 12.5, "echo")
    reply = OutboundMessage.objects.get(pk=mine.reply.pk)
    assert (reply.text, reply.to, reply.status) == ("", "", "sent")
    user.refresh_from_db()
    assert (user.display_name, user.language, user.is_admin) == ("", "", False)
    assert user.blocked  # a block survives an erasure
    assert not PermissionGrant.objects.exists()
    assert not user.bot_groups.exists()
    assert not mine.file.exists()
    # Another bot's and another user's data stay.
    assert InboundMessage.objects.get(pk=kept.inbound.pk).text == "/echo secret words m2"
    assert InboundMessage.objects.get(pk=other.inbound.pk).text == "/echo secret words not-mine"
    assert kept.file.exists()
    assert other.file.exists()


def test_erase_without_bot_covers_every_bot_and_is_idempotent(family) -> None:
    at = timezone.now()
    history(bot=the_bot(), session_id=USER, at=at, mid="m1")
    history(bot=family, session_id=USER, at=at, mid="m2")
    run("erase", USER)
    assert set(InboundMessage.objects.values_list("text", flat=True)) == {""}
    again = run("erase", USER)
    nothing = "erased files 0, grants 0, groups 0, invocations 0, messages 0, plugins 0, replies 0"
    assert again.splitlines() == [f"family: {nothing}", f"tests: {nothing}"]


def test_a_file_another_user_sent_too_is_kept() -> None:
    at = timezone.now()
    mine = history(bot=the_bot(), session_id=USER, at=at, mid="m1", data=b"same")
    history(bot=the_bot(), session_id=OTHER, at=at, mid="m2", data=b"same")
    run("erase", USER)
    assert mine.file.exists()


def test_a_reply_not_yet_delivered_and_a_running_command_are_left_to_finish() -> None:
    pending = history(bot=the_bot(), session_id=USER, at=timezone.now(), mid="m1", status="running")
    OutboundMessage.objects.filter(pk=pending.reply.pk).update(status=OutboundMessage.Status.PENDING)
    run("erase", USER)
    reply = OutboundMessage.objects.get(pk=pending.reply.pk)
    assert (reply.text, reply.to, reply.status) == ("secret words m1", USER, "pending")
    inv = Invocation.objects.get(pk=pending.invocation.pk)
    assert (inv.arguments, inv.conversation) == ("secret words m1", USER)
    assert pending.file.exists()  # the running command may still read it


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["export", "nope"], "nope is not a Session ID (66 hex characters starting 05)."),
        (["erase", USER, "--bot", "nosuch"], "There is no bot named nosuch."),
    ],
)
def test_a_wrong_session_id_or_bot_is_named(args: list[str], error: str) -> None:
    with pytest.raises(CommandError, match=error.replace("(", r"\(").replace(")", r"\)")):
        run(*args)


def test_a_file_written_in_the_last_minutes_is_left_to_the_retention_purge() -> None:
    # Its bytes may have just come in again in a message whose row is not committed yet.
    mine = history(bot=the_bot(), session_id=USER, at=timezone.now(), mid="m1", data=b"fresh")
    os.utime(mine.file)
    run("erase", USER)
    assert mine.file.exists()
    assert InboundMessage.objects.get().attachments == []
