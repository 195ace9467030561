"""Messages stored together (``broker.accept.inbound_accept_many``): one result each, in order,
with the same outcomes as one at a time."""

from __future__ import annotations

import base64
import contextvars
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import OperationalError, connection
from django.test import override_settings

from bots import live
from bridgeprotocol.frames import AttachmentFrame, Message
from broker import accept, message_routing
from broker.accept import ACCEPTED, UNSTORABLE, _attachments_store, inbound_accept_many
from broker.models import InboundMessage, OutboundMessage
from broker.ratelimit import Verdict, rate_limit_check, rate_limit_check_many
from plugins import offers
from plugins.models import BotUser, Invocation, Plugin
from sessionbot.botconfig import BotConfig, RateLimit
from tests.broker.conftest import BOT, OTHER, USER, message
from tests.roundtrips import queries_sent
from tests.thebot import the_bot


def batch(*frames: dict[str, Any], bot: int | None = None) -> list[str]:
    messages = [Message.model_validate(frame) for frame in frames]
    bot = bot or the_bot().pk
    return [result.status for result in inbound_accept_many(bot=bot, messages=messages, bot_id=BOT)]


def test_a_batch_gets_one_result_per_message_in_order(builtins: dict[str, Plugin]) -> None:
    assert batch(message(mid="stored-before")) == ["accepted"]
    statuses = batch(
        message(mid="a"),
        message(mid="stored-before"),
        message("x" * 10_001, mid="too-long"),
        message(mid="a"),
        message("/nosuch", sender=OTHER, mid="b"),
        message(mid="own", sender=BOT),
    )
    assert statuses == ["accepted", "duplicate", "rejected", "duplicate", "accepted", "accepted"]
    stored = dict(InboundMessage.objects.values_list("message_id", "status"))
    assert stored == {"stored-before": "routed", "a": "routed", "b": "answered", "own": "ignored"}
    assert Invocation.objects.count() == 2
    assert list(OutboundMessage.objects.values_list("to", flat=True)) == [OTHER]  # the hint to /help
    assert set(BotUser.objects.values_list("session_id", flat=True)) == {USER, OTHER}  # not the bot


def test_a_users_messages_in_one_batch_are_routed_in_turn(builtins: dict[str, Plugin]) -> None:
    assert batch(message("/ping", mid="first"), message("/echo hi", mid="second")) == ["accepted", "accepted"]
    invocations = Invocation.objects.order_by("pk")
    assert [(i.command, i.inbound_message.message_id) for i in invocations] == [("ping", "first"), ("echo", "second")]


def test_a_message_whose_invocation_outlived_its_stored_copy_reuses_it(builtins: dict[str, Plugin]) -> None:
    # An admin deleted the stored message; the bridge delivers it again (a resent batch).
    assert batch(message(mid="again")) == ["accepted"]
    first = Invocation.objects.get()
    InboundMessage.objects.all().delete()
    assert batch(message(mid="again"), message(mid="new")) == ["accepted", "accepted"]
    assert InboundMessage.objects.get(message_id="again").invocation_id == first.pk
    assert Invocation.objects.count() == 2  # "again" kept its invocation; "new" got one


def test_a_batch_counts_each_message_against_its_senders_rate_limit() -> None:
    # Runs on the configured cache: local memory, or Redis (one pipelined round trip).
    cache.clear()
    config = BotConfig(rate_limit=RateLimit(messages=2, window_seconds=3600))
    with override_settings(BOT_CONFIG=config):
        first = rate_limit_check_many(user_keys=[USER, OTHER, USER, USER, USER], now=7200.0)
        later = rate_limit_check(user_key=OTHER, now=7200.0)
        next_window = rate_limit_check_many(user_keys=[USER], now=10800.0)
    assert first == [Verdict.OK, Verdict.OK, Verdict.OK, Verdict.WARN, Verdict.DROP]
    assert later is Verdict.OK  # OTHER's second message in the window
    assert next_window == [Verdict.OK]


def test_the_counts_follow_a_changed_cache_setting() -> None:
    config = BotConfig(rate_limit=RateLimit(messages=1, window_seconds=3600))
    for location in ("counts-a", "counts-b"):  # the process's counter is made anew for each
        caches_setting = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": location}}
        with override_settings(BOT_CONFIG=config, CACHES=caches_setting):
            assert rate_limit_check_many(user_keys=[USER, USER], now=7200.0) == [Verdict.OK, Verdict.WARN]


def test_counts_made_from_fresh_async_contexts_share_one_redis_connection() -> None:
    # The consumer counts in a new context each time (database_sync_to_async); Django's
    # ``caches`` gives each context its own client, and each opened a connection of its own.
    if not isinstance(caches["default"], RedisCache):
        pytest.skip("runs with Redis as the cache (set REDIS_URL)")
    count = async_to_sync(sync_to_async(rate_limit_check_many, thread_sensitive=False))

    def count_in_a_new_context(**kwargs: Any) -> list[Verdict]:
        return contextvars.Context().run(count, **kwargs)  # as the server's: no cache in it yet

    count_in_a_new_context(user_keys=[USER])  # the connection may be opened once
    server = caches["default"]._cache.get_client()
    before = server.info("stats")["total_connections_received"]
    for _ in range(5):
        assert count_in_a_new_context(user_keys=[USER, OTHER]) == [Verdict.OK, Verdict.OK]
    assert server.info("stats")["total_connections_received"] == before


def test_a_batch_from_known_users_is_read_once_and_written_once_on_postgresql(
    builtins: dict[str, Plugin], monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("runs on PostgreSQL (set DATABASE_URL): SQLite has no round trips to save")
    monkeypatch.setattr(message_routing, "_COMMANDS_TTL", 600.0)  # the command tables stay cached
    monkeypatch.setattr(live, "TTL_SECONDS", 600.0)  # and so do the bot's settings
    monkeypatch.setattr(offers, "TTL_SECONDS", 600.0)  # and its plugins
    warm = [message(mid="w1"), message("/echo", mid="w2"), message("/nosuch", sender=OTHER, mid="w3")]
    assert batch(*warm) == ["accepted"] * 3
    bot = the_bot().pk
    with queries_sent() as sent:
        found = (message(mid="p1"), message("/echo hi", mid="p2"), message("/nosuch", sender=OTHER, mid="p3"))
        statuses = batch(*found, bot=bot)
    assert statuses == ["accepted"] * 3
    # Two round trips: the duplicates, users and reserved keys; then every write.
    assert [query.autocommit for query in sent] == [True, True], [query.sql[:70] for query in sent]
    assert "nextval" in sent[0].sql
    assert sent[1].sql.startswith("BEGIN; ")
    assert sent[1].sql.endswith("; COMMIT")
    assert "synchronous_commit" not in sent[1].sql  # the ack promises the disk: no relaxed commit
    stored = dict(InboundMessage.objects.filter(message_id__startswith="p").values_list("message_id", "status"))
    assert stored == {"p1": "routed", "p2": "routed", "p3": "answered"}
    invocations = Invocation.objects.filter(inbound_message__message_id__in=["p1", "p2"]).order_by("pk")
    assert [i.command for i in invocations] == ["ping", "echo"]
    assert OutboundMessage.objects.filter(to=OTHER).count() == 2  # a hint for each /nosuch


def test_a_first_message_creates_its_user_and_a_later_name_fills_in_a_blank_one(builtins: dict[str, Plugin]) -> None:
    assert batch(message(mid="n1", author_name="")) == ["accepted"]
    assert BotUser.objects.get(session_id=USER).display_name == ""
    assert batch(message(mid="n2", author_name="Ada"), message(mid="n3", author_name="Other")) == ["accepted"] * 2
    assert BotUser.objects.get(session_id=USER).display_name == "Ada"  # the first name given
    assert BotUser.objects.count() == 1


def _stored_by_two_lanes_at_once(frame: AttachmentFrame) -> tuple[list[list[dict[str, object]]], list[BaseException]]:
    start = threading.Barrier(2)
    stored: list[list[dict[str, object]]] = []
    failed: list[BaseException] = []

    def store() -> None:
        start.wait()
        try:
            stored.append(_attachments_store((frame,)))
        except Exception as exc:
            failed.append(exc)

    lanes = [threading.Thread(target=store) for _ in range(2)]
    for lane in lanes:
        lane.start()
    for lane in lanes:
        lane.join()
    return stored, failed


def test_the_same_file_stored_by_two_lanes_at_once_is_stored_whole_by_both(settings, tmp_path) -> None:
    # Both once wrote to one temporary name: one's rename took the file from under the
    # other, whose whole batch then failed (and a half-written file could be renamed).
    settings.DATA_DIR = tmp_path
    for round_ in range(10):
        data = os.urandom(2_000_000) + bytes([round_])
        encoded = base64.b64encode(data).decode()
        frame = AttachmentFrame(name="a.bin", content_type="application/octet-stream", size=len(data), data_b64=encoded)
        stored, failed = _stored_by_two_lanes_at_once(frame)
        assert failed == []
        (path,) = {str(kept[0]["path"]) for kept in stored}
        assert Path(path).read_bytes() == data
        assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600
    assert not list((tmp_path / "attachments").glob("*.part"))  # no temporary file left behind


def test_a_message_the_database_refuses_is_rejected_alone(
    builtins: dict[str, Plugin], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The validator refuses such a name; past it (a rule missed), the database refuses it.
    monkeypatch.setattr(accept, "message_check", lambda message, max_attachments: None)
    results = inbound_accept_many(
        bot=the_bot().pk,
        messages=[
            Message.model_validate(message(mid="before")),
            Message.model_validate(message(mid="unstorable", author_name="Ana\ud800")),
            Message.model_validate(message("/echo hi", mid="after")),
        ],
        bot_id=BOT,
    )
    assert results == [ACCEPTED, UNSTORABLE, ACCEPTED]
    assert set(InboundMessage.objects.values_list("message_id", flat=True)) == {"before", "after"}
    assert Invocation.objects.count() == 2


def test_a_message_that_fails_for_a_reason_of_its_own_fails_alone(
    builtins: dict[str, Plugin], monkeypatch: pytest.MonkeyPatch
) -> None:
    route = message_routing.inbound_route

    def route_failing_on_one(*, inbound: InboundMessage, **kwargs: Any) -> None:
        if inbound.message_id == "unlucky":
            raise RuntimeError("a bug that only this message meets")
        route(inbound=inbound, **kwargs)

    monkeypatch.setattr(accept, "inbound_route", route_failing_on_one)
    results = batch(message(mid="first"), message(mid="unlucky"), message(mid="third"))
    assert results == ["accepted", "failed", "accepted"]
    assert set(InboundMessage.objects.values_list("message_id", flat=True)) == {"first", "third"}


def test_a_database_that_cannot_be_reached_fails_the_whole_batch(
    builtins: dict[str, Plugin], monkeypatch: pytest.MonkeyPatch
) -> None:
    tries: list[int] = []

    def unreachable(**kwargs: Any) -> None:
        tries.append(1)
        raise OperationalError("connection refused")

    monkeypatch.setattr(accept, "rate_limit_check_many", unreachable)
    with pytest.raises(OperationalError):
        batch(message(mid="one"), message(mid="two"))
    assert len(tries) == 1  # not tried again message by message
    assert not InboundMessage.objects.exists()


def test_a_batch_writes_without_reading_even_when_the_bots_settings_are_read_anew(
    builtins: dict[str, Plugin], monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("runs on PostgreSQL (set DATABASE_URL): SQLite writes one statement at a time")
    monkeypatch.setattr(live, "TTL_SECONDS", 0.0)  # every use of the bot's settings reads them
    assert batch(message("/nosuch", mid="hint-1")) == ["accepted"]
    assert OutboundMessage.objects.filter(to=USER).count() == 1


def test_a_file_received_again_is_touched_so_an_erasure_spares_it(settings, tmp_path) -> None:
    settings.DATA_DIR = tmp_path
    data = b"the same photo"
    frame = AttachmentFrame(
        name="a.jpg", content_type="image/jpeg", size=len(data), data_b64=base64.b64encode(data).decode()
    )
    (first,) = _attachments_store((frame,))
    path = Path(str(first["path"]))
    os.utime(path, (1_000_000, 1_000_000))  # written long ago
    _attachments_store((frame,))
    assert path.stat().st_mtime > time.time() - 60
