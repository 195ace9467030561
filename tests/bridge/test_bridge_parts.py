"""The bridge's small parts: identity file, ack-gated cursor, backoff, sent-ref memory."""

from __future__ import annotations

import random
import stat

import pytest
from session_python import Session

from bridge.backoff import Backoff
from bridge.identity import IdentityError, mnemonic_load, session_id_of
from bridge.inbox import Fetched, Inbox
from bridge.store import BridgeStore
from bridgeprotocol.frames import Message


def msg(h: str) -> Message:
    return Message(
        id=h, sender="05" + "a" * 64, conversation="05" + "a" * 64, conversation_type="private", timestamp=1, text="hi"
    )


def test_a_generated_mnemonic_is_kept_private_and_reused(tmp_path):
    path = tmp_path / "data" / "session_mnemonic"
    first = mnemonic_load(env_value="", path=path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert mnemonic_load(env_value="", path=path) == first
    assert session_id_of(first).startswith("05")
    assert len(session_id_of(first)) == 66


def test_the_environment_mnemonic_wins_and_a_bad_one_is_reported_without_its_words(tmp_path):
    words = Session.generate_mnemonic()
    assert mnemonic_load(env_value=f"  {words} ", path=tmp_path / "m") == words
    assert not (tmp_path / "m").exists()
    with pytest.raises(IdentityError) as exc:
        mnemonic_load(env_value="correct horse battery staple", path=tmp_path / "m")
    assert "horse" not in str(exc.value)


@pytest.mark.parametrize(
    ("fetched", "acked", "cursor", "waiting"),
    [
        (["a", "b", "c"], [], "", ["a", "b", "c"]),
        (["a", "b", "c"], ["a"], "a", ["b", "c"]),
        (["a", "b", "c"], ["b"], "", ["a", "c"]),  # b is acked but a is not: the cursor waits
        (["a", "b", "c"], ["b", "a"], "b", ["c"]),
        (["a", "-skip", "c"], ["a"], "-skip", ["c"]),  # skipped messages never hold the cursor
        (["a", "a"], ["a"], "a", []),
        (["a", "b", "a", "b"], ["a", "b"], "b", []),  # the mailbox answered again in full
    ],
)
def test_the_cursor_moves_only_past_messages_settled_in_order(fetched, acked, cursor, waiting):
    inbox = Inbox(cursor="")
    for h in fetched:
        inbox.add(Fetched(h, None if h.startswith("-") else msg(h)))
    for h in acked:
        inbox.settle(h)
    assert inbox.cursor == cursor
    assert [m.id for m in inbox.waiting()] == waiting


def test_backoff_grows_with_jitter_up_to_the_cap_and_resets():
    b = Backoff(base=0.5, cap=8, rng=random.Random(1))
    delays = [b.next() for _ in range(12)]
    assert all(0.25 <= d <= 8 for d in delays)
    assert b.ceiling() == 8
    assert len(set(delays)) > 6  # jittered, so many bridges do not reconnect in lockstep
    b.reset()
    assert b.ceiling() == 0.5


def test_sent_refs_and_the_cursor_survive_a_restart_and_a_torn_line(tmp_path):
    store = BridgeStore(tmp_path)
    store.sent_put("inv1-1", "HASH1", 111)
    store.cursor_save("CUR", ("OLD1", "CUR"))
    with open(tmp_path / "sent-refs.log", "a") as fh:
        fh.write("inv1-2\tHAS")  # a crash mid-write
    again = BridgeStore(tmp_path)
    assert again.sent_get("inv1-1") == ("HASH1", 111)
    assert again.sent_get("inv1-2") is None
    assert again.cursor == "CUR"
    assert again.recent == ("OLD1", "CUR")
    assert again.since_ms == store.since_ms
