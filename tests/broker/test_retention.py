"""Content past retention.content_days is erased in batches; the metrics' metadata stays."""

from __future__ import annotations

import os
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from broker.models import InboundMessage, OutboundMessage
from broker.retention import PurgeCounts, content_purge, retention_purge_tick
from plugins.models import Invocation
from sessionbot.botconfig import Retention
from tests.broker.userrows import attachment_file, history
from tests.thebot import the_bot

pytestmark = pytest.mark.django_db(transaction=True)

USER = "05" + "ab" * 32
OTHER = "05" + "cd" * 32


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path
    return tmp_path


def _old_file(path: Path) -> None:
    """Files are dated by their last write; an old message's file is as old as it."""
    old = (timezone.now() - timedelta(days=40)).timestamp()
    os.utime(path, (old, old))


def test_content_older_than_the_retention_period_is_erased_and_metadata_kept() -> None:
    now = timezone.now()
    old = history(bot=the_bot(), session_id=USER, at=now - timedelta(days=31), mid="old", data=b"old photo")
    new = history(bot=the_bot(), session_id=USER, at=now - timedelta(days=29), mid="new", data=b"new photo")
    _old_file(old.file)

    counts = content_purge(retention=Retention(content_days=30, batch_size=1))

    assert counts == PurgeCounts(messages=1, invocations=1, replies=1, files=1)
    inbound = InboundMessage.objects.get(pk=old.inbound.pk)
    assert (inbound.text, inbound.author_name, inbound.attachments) == ("", "", [])
    # What the metrics and the duplicate check read stays.
    assert (inbound.message_id, inbound.status, inbound.sender) == ("old", "routed", USER)
    inv = Invocation.objects.get(pk=old.invocation.pk)
    assert (inv.arguments, inv.attachments) == ("", [])
    assert (inv.command, inv.status, inv.duration_ms, inv.plugin_version_id) == (
        "echo",
        "ok",
        12.5,
        inv.plugin_version_id,
    )
    assert inv.plugin_version_id is not None
    reply = OutboundMessage.objects.get(pk=old.reply.pk)
    assert (reply.text, reply.status, reply.sent_at) == ("", "sent", old.reply.sent_at)
    assert not old.file.exists()
    # Younger content is untouched.
    assert InboundMessage.objects.get(pk=new.inbound.pk).text == "/echo secret words new"
    assert Invocation.objects.get(pk=new.invocation.pk).arguments == "secret words new"
    assert OutboundMessage.objects.get(pk=new.reply.pk).text == "secret words new"
    assert new.file.exists()


def test_a_purge_run_again_erases_nothing_more() -> None:
    history(bot=the_bot(), session_id=USER, at=timezone.now() - timedelta(days=60), mid="old")
    assert content_purge(retention=Retention(content_days=30)).messages == 1
    assert content_purge(retention=Retention(content_days=30)) == PurgeCounts()


def test_a_file_another_young_message_still_names_is_kept() -> None:
    now = timezone.now()
    old = history(bot=the_bot(), session_id=USER, at=now - timedelta(days=40), mid="old", data=b"same")
    history(bot=the_bot(), session_id=OTHER, at=now - timedelta(days=1), mid="young", data=b"same")
    _old_file(old.file)
    assert content_purge(retention=Retention(content_days=30)).files == 0
    assert old.file.exists()


def test_work_still_under_way_is_left_until_it_is_done() -> None:
    old = timezone.now() - timedelta(days=40)
    running = history(bot=the_bot(), session_id=USER, at=old, mid="running", status="running")
    InboundMessage.objects.filter(pk=running.inbound.pk).update(status=InboundMessage.Status.ACCEPTED)
    OutboundMessage.objects.filter(pk=running.reply.pk).update(status=OutboundMessage.Status.PENDING)
    _old_file(running.file)
    assert content_purge(retention=Retention(content_days=30)) == PurgeCounts()
    assert OutboundMessage.objects.get(pk=running.reply.pk).text == "secret words running"
    assert Invocation.objects.get(pk=running.invocation.pk).arguments == "secret words running"
    assert running.file.exists()


def test_null_content_days_keeps_content_for_ever() -> None:
    history(bot=the_bot(), session_id=USER, at=timezone.now() - timedelta(days=4000), mid="ancient")
    assert content_purge(retention=Retention(content_days=None)) == PurgeCounts()
    assert InboundMessage.objects.get().text == "/echo secret words ancient"


def test_purge_dry_run_counts_and_erases_nothing_then_purge_erases() -> None:
    old = history(bot=the_bot(), session_id=USER, at=timezone.now() - timedelta(days=31), mid="old")
    _old_file(old.file)
    attachment_file(b"orphan", age=0)  # a file no row names, written now: too young
    out = StringIO()
    call_command("purge", "--dry-run", stdout=out)
    assert out.getvalue().strip() == (
        "Content older than 30 days that a purge would erase: messages 1, invocations 1, replies 1, files 1."
    )
    assert InboundMessage.objects.get().text == "/echo secret words old"
    assert old.file.exists()
    out = StringIO()
    call_command("purge", stdout=out)
    assert out.getvalue().strip() == (
        "Content older than 30 days erased: messages 1, invocations 1, replies 1, files 1."
    )
    assert InboundMessage.objects.get().text == ""
    assert not old.file.exists()


def test_runbrokers_periodic_tick_purges_with_the_configured_retention(settings) -> None:
    history(bot=the_bot(), session_id=USER, at=timezone.now() - timedelta(days=31), mid="old")
    settings.BOT_CONFIG = settings.BOT_CONFIG.model_copy(update={"retention": Retention(content_days=30)})
    assert retention_purge_tick().messages == 1
    settings.BOT_CONFIG = settings.BOT_CONFIG.model_copy(update={"retention": Retention(content_days=None)})
    history(bot=the_bot(), session_id=USER, at=timezone.now() - timedelta(days=31), mid="kept")
    assert retention_purge_tick() == PurgeCounts()
