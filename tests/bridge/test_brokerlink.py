"""``BrokerLink``: what the bridge tells the broker, and when, for every order of events.

Each scenario is a list of (event, effects the link returns). Events, as the runtime feeds
them: ``open`` a WebSocket opened; ``lost`` it closed or could not open; ``welcome``, ``ack ID
[STATUS]``, ``error CODE [ID]``, ``send REF``, ``raw TEXT`` a frame from the broker;
``fetch ID -ID...`` the poller handed over messages, ``-ID`` being one with nothing for the
broker (the bot's own sync copy, a typing indicator); ``lost CODE`` the broker closed it with
CODE; ``sent REF``, ``failed REF``, ``crash
REF`` the sender's answer; ``written`` a cursor write ended; ``due ID LINK`` a retry timer
fired; ``status`` the status timer fired. Delays are the backoff's ceilings (jitter at its top).
"""

from __future__ import annotations

import json
import logging
import random

import pytest

from bridge.brokerlink import (
    CONFLICT_RETRY_SECONDS,
    MAX_BACKLOG,
    MAX_BACKLOG_BYTES,
    RECENT_KEPT,
    BrokerLink,
    Effect,
    Emit,
    EmitStatus,
    Hangup,
    Note,
    Reconnect,
    RetryLater,
    SaveCursor,
    ShowTyping,
    StartSend,
)
from bridge.inbox import Fetched
from bridgeprotocol.frames import PROTOCOL_VERSION, Ack, Error, Failed, Hello, Message, Send, Sent, Welcome

BOT = "05" + "b" * 64
USER = "05" + "a" * 64


class Ceiling(random.Random):
    """Jitter at its top: every delay is the backoff's ceiling."""

    def uniform(self, a: float, b: float) -> float:
        return b


def msg(msg_id: str) -> Message:
    return Message(
        id=msg_id, sender=USER, conversation=f"chat-{msg_id}", conversation_type="private", timestamp=1, text="hi"
    )


def link_new(**kwargs) -> BrokerLink:
    return BrokerLink(bot_id=BOT, client="test-client", cursor="c0", rng=Ceiling(), **kwargs)


def feed(link: BrokerLink, event: str) -> list[Effect]:
    verb, *args = event.split()
    match verb:
        case "open":
            return link.link_opened()
        case "lost":
            return link.link_lost(int(args[0]) if args else None)
        case "welcome":
            return link.received(Welcome().to_json())
        case "ack":
            status = args[1] if len(args) > 1 else "accepted"
            reason = "not for this bot" if status == "rejected" else None
            return link.received(Ack(id=args[0], status=status, reason=reason).to_json())
        case "error":
            return link.received(Error(code=args[0], detail="boom", id=args[1] if len(args) > 1 else None).to_json())
        case "send":
            return link.received(Send(ref=args[0], to=USER, text="pong").to_json())
        case "raw":
            return link.received(event.removeprefix("raw "))
        case "fetch":
            return link.fetched([Fetched(a.lstrip("-"), None if a.startswith("-") else msg(a)) for a in args])
        case "sent":
            return link.send_done(Sent(ref=args[0], hash=f"hash-{args[0]}", timestamp=1))
        case "failed":
            return link.send_done(Failed(ref=args[0], reason="the network is down", retry=True))
        case "crash":
            return link.send_crashed(args[0], "OSError")
        case "written":
            return link.cursor_written()
        case "due":
            return link.retry_due(args[0], int(args[1]))
        case "status":
            return link.status_due()
    raise AssertionError(f"unknown event {event!r}")


def describe(effect: Effect) -> str:
    match effect:
        case Emit(frame=Hello()):
            return "hello"
        case Emit(frame=Message() as frame):
            return f"message {frame.id}"
        case Emit(frame=Sent() as frame):
            return f"sent {frame.ref} {frame.hash}"
        case Emit(frame=Failed() as frame):
            return f"failed {frame.ref} retry={frame.retry}: {frame.reason}"
        case EmitStatus():
            return "status"
        case SaveCursor(cursor=cursor):
            return f"save cursor {cursor}"
        case RetryLater(message_id=message_id, delay=delay, link=link):
            return f"retry {message_id} in {delay}s on link {link}"
        case StartSend(frame=frame):
            return f"start send {frame.ref}"
        case ShowTyping(to=to):
            return f"typing to {to}"
        case Hangup(reason=reason):
            return f"hang up: {reason}"
        case Reconnect(delay=delay):
            return f"reconnect in {delay}s"
        case Note(level=level, text=text):
            return f"{logging.getLevelName(level).lower()}: {text}"
    raise AssertionError(f"unknown effect {effect!r}")


UP = [("open", ["hello"]), ("welcome", ["status"])]
CONFLICT_LOG = (
    f"error: the broker refused this bridge of bot {BOT}: another bridge of the bot is connected (close code "
    "4409); run one bridge per bot. Trying again in 60 s"
)

SCENARIOS: dict[str, list[tuple[str, list[str]]]] = {
    "it says hello first and a status once welcomed": [
        ("open", ["hello"]),
        ("welcome", ["status"]),
        ("status", ["status"]),
    ],
    "a fetched message goes out at once on a live link": [
        *UP,
        ("fetch m1 m2", ["message m1", "message m2"]),
    ],
    "a message fetched while the link is down goes out after the welcome, before the status": [
        ("fetch m1", []),
        ("open", ["hello"]),
        ("fetch m2", []),  # hello sent, no welcome yet
        ("welcome", ["message m1", "message m2", "status"]),
        ("fetch m3", ["message m3"]),
    ],
    "after a reconnect every unacked message goes again, oldest first, and acked ones never": [
        *UP,
        ("fetch m1 m2 m3", ["message m1", "message m2", "message m3"]),
        ("ack m2", ["typing to chat-m2"]),
        ("lost", ["reconnect in 0.5s"]),
        ("fetch m4", []),
        ("open", ["hello"]),
        ("welcome", ["message m1", "message m3", "message m4", "status"]),
    ],
    "the cursor is saved only once every message up to it is acked": [
        *UP,
        ("fetch m1 m2 m3", ["message m1", "message m2", "message m3"]),
        ("ack m2", ["typing to chat-m2"]),  # m1 still waits: the cursor stays
        ("ack m3", ["typing to chat-m3"]),
        ("ack m1", ["save cursor m3", "typing to chat-m1"]),
    ],
    "one cursor write at a time, then one more with the latest cursor": [
        *UP,
        ("fetch m1 m2 m3", ["message m1", "message m2", "message m3"]),
        ("ack m1", ["save cursor m1", "typing to chat-m1"]),
        ("ack m2", ["typing to chat-m2"]),
        ("ack m3", ["typing to chat-m3"]),
        ("written", ["save cursor m3"]),
        ("written", []),
        ("fetch -s1", ["save cursor s1"]),
    ],
    "a cursor write that failed is followed by the next move's write": [
        *UP,
        ("fetch m1 m2", ["message m1", "message m2"]),
        ("ack m1", ["save cursor m1", "typing to chat-m1"]),
        ("written", []),  # the write failed: the cursor stays in memory
        ("ack m2", ["save cursor m2", "typing to chat-m2"]),
    ],
    "messages with nothing for the broker move the cursor only past settled ones": [
        *UP,
        ("fetch -s1 m1 -s2", ["message m1", "save cursor s1"]),
        ("written", []),
        ("ack m1", ["save cursor s2", "typing to chat-m1"]),
    ],
    "a message fetched again is not forwarded again": [
        *UP,
        ("fetch m1", ["message m1"]),
        ("fetch m1", []),
        ("ack m1", ["save cursor m1", "typing to chat-m1"]),
        ("fetch m1", []),
    ],
    "an ack for an unknown id changes nothing": [
        *UP,
        ("fetch m1", ["message m1"]),
        ("ack nobody", []),
        ("ack nobody rejected", ["warning: broker rejected message nobody: not for this bot"]),
        ("fetch m2", ["message m2"]),
    ],
    "a second ack for a message changes nothing": [
        *UP,
        ("fetch m1", ["message m1"]),
        ("ack m1", ["save cursor m1", "typing to chat-m1"]),
        ("ack m1", []),
        ("ack m1 duplicate", []),
    ],
    "a duplicate ack settles the message without a typing indicator": [
        *UP,
        ("fetch m1", ["message m1"]),
        ("ack m1 duplicate", ["save cursor m1"]),
    ],
    "a rejected message is settled for good, without a typing indicator": [
        *UP,
        ("fetch m1", ["message m1"]),
        ("ack m1 rejected", ["warning: broker rejected message m1: not for this bot", "save cursor m1"]),
        ("lost", ["reconnect in 0.5s"]),
        ("open", ["hello"]),
        ("welcome", ["status"]),
    ],
    "a message the broker could not store goes again on the same link, later each time": [
        *UP,
        ("fetch m1", ["message m1"]),
        ("error internal m1", ["warning: broker error internal: boom", "retry m1 in 1.0s on link 1"]),
        ("due m1 1", ["message m1"]),
        ("error internal m1", ["warning: broker error internal: boom", "retry m1 in 2.0s on link 1"]),
        ("due m1 1", ["message m1"]),
        ("ack m1", ["save cursor m1", "typing to chat-m1"]),
    ],
    "a retry is not sent once the message is acked": [
        *UP,
        ("fetch m1", ["message m1"]),
        ("error internal m1", ["warning: broker error internal: boom", "retry m1 in 1.0s on link 1"]),
        ("ack m1", ["save cursor m1", "typing to chat-m1"]),
        ("due m1 1", []),
    ],
    "a retry is not sent on a link that was lost or replaced: the welcome sent it already": [
        *UP,
        ("fetch m1", ["message m1"]),
        ("error internal m1", ["warning: broker error internal: boom", "retry m1 in 1.0s on link 1"]),
        ("lost", ["reconnect in 0.5s"]),
        ("due m1 1", []),
        ("open", ["hello"]),
        ("due m1 1", []),
        ("welcome", ["message m1", "status"]),
        ("due m1 1", []),
        ("error internal m1", ["warning: broker error internal: boom", "retry m1 in 2.0s on link 2"]),
        ("due m1 2", ["message m1"]),
    ],
    "a storage error about a message not waiting is only logged": [
        *UP,
        ("error internal m9", ["warning: broker error internal: boom"]),
        ("error internal", ["warning: broker error internal: boom"]),
        ("error no_hello m9", ["warning: broker error no_hello: boom"]),
    ],
    "a message the broker calls a bad frame is dropped and the cursor moves past it": [
        *UP,
        ("fetch m1 m2", ["message m1", "message m2"]),
        (
            "error bad_frame m1",
            [
                "warning: broker error bad_frame: boom",
                "error: the broker refused message m1 as a bad frame; dropped: boom",
                "save cursor m1",
            ],
        ),
        ("written", []),
        ("ack m2", ["save cursor m2", "typing to chat-m2"]),
        ("lost", ["reconnect in 0.5s"]),
        ("open", ["hello"]),
        ("welcome", ["status"]),  # m1 not resent
    ],
    "a bad frame without a waiting message is only logged": [
        *UP,
        ("fetch m1", ["message m1"]),
        ("error bad_frame", ["warning: broker error bad_frame: boom"]),
        ("error bad_frame m9", ["warning: broker error bad_frame: boom"]),
        ("error other_code m1", ["warning: broker error other_code: boom"]),
        ("ack m1", ["save cursor m1", "typing to chat-m1"]),
    ],
    "a bad frame drops a message that was waiting for a retry": [
        *UP,
        ("fetch m1", ["message m1"]),
        ("error internal m1", ["warning: broker error internal: boom", "retry m1 in 1.0s on link 1"]),
        (
            "error bad_frame m1",
            [
                "warning: broker error bad_frame: boom",
                "error: the broker refused message m1 as a bad frame; dropped: boom",
                "save cursor m1",
            ],
        ),
        ("due m1 1", []),
    ],
    "a send is queued once while it waits for the sender": [
        *UP,
        ("send r1", ["start send r1"]),
        ("send r1", []),  # the broker's next hello brought it again
        ("send r2", ["start send r2"]),
        ("sent r1", ["sent r1 hash-r1"]),
        ("send r1", ["start send r1"]),  # answered: the sender answers again from its store
    ],
    "a send still queued when the link drops is not queued again, and its answer goes on the new link": [
        *UP,
        ("send r1", ["start send r1"]),
        ("lost", ["reconnect in 0.5s"]),
        ("open", ["hello"]),
        ("welcome", ["status"]),
        ("send r1", []),
        ("sent r1", ["sent r1 hash-r1"]),
    ],
    "a send answered while the link is down is not answered: the broker sends it again": [
        *UP,
        ("send r1", ["start send r1"]),
        ("lost", ["reconnect in 0.5s"]),
        ("sent r1", []),
        ("open", ["hello"]),
        ("failed r2", []),  # no welcome yet
        ("welcome", ["status"]),
        ("send r1", ["start send r1"]),
        ("sent r1", ["sent r1 hash-r1"]),
    ],
    "a failed send is answered as failed, and a crashed one as failed with retry": [
        *UP,
        ("send r1", ["start send r1"]),
        ("send r2", ["start send r2"]),
        ("failed r1", ["failed r1 retry=True: the network is down"]),
        ("crash r2", ["failed r2 retry=True: the bridge failed on this send (OSError)"]),
        ("send r2", ["start send r2"]),
    ],
    "nothing but a welcome is taken before the welcome": [
        ("open", ["hello"]),
        ("ack m1", ["hang up: expected welcome, got ack"]),
        ("lost", ["reconnect in 0.5s"]),
        ("open", ["hello"]),
        ('raw {"type": "nonsense"}', ["hang up: unknown frame type 'nonsense'"]),
    ],
    "a broken frame on a live link is ignored": [
        *UP,
        ('raw {"type": "nonsense"}', ["warning: ignored a frame from the broker: unknown frame type 'nonsense'"]),
        ("fetch m1", ["message m1"]),
    ],
    "a second welcome, or a frame only a bridge sends, changes nothing": [
        *UP,
        ("fetch m1", ["message m1"]),
        ("welcome", []),
        ('raw {"type": "sent", "ref": "r", "hash": "h", "timestamp": 1}', []),
    ],
    "no status goes out while the link is down or not welcomed": [
        ("status", []),
        ("open", ["hello"]),
        ("status", []),
        ("welcome", ["status"]),
        ("lost", ["reconnect in 0.5s"]),
        ("status", []),
    ],
    "reconnects wait longer each time until a welcome": [
        ("lost", ["reconnect in 0.5s"]),
        ("open", ["hello"]),
        ("lost", ["reconnect in 1.0s"]),
        ("lost", ["reconnect in 2.0s"]),
        ("open", ["hello"]),
        ("welcome", ["status"]),
        ("lost", ["reconnect in 0.5s"]),
    ],
    # --- another bridge of the bot is connected -------------------------------------------
    "refused as a second bridge: logged as an error naming the bot, tried again in a minute": [
        ("open", ["hello"]),
        ("error bridge_conflict", []),  # no hang-up: the broker's close says the rest
        ("lost 4409", [CONFLICT_LOG, "reconnect in 60.0s"]),
        ("open", ["hello"]),
        ("lost 4409", [CONFLICT_LOG, "reconnect in 60.0s"]),  # slow every time, not growing
        ("open", ["hello"]),
        ("welcome", ["status"]),
        ("lost", ["reconnect in 0.5s"]),  # the normal backoff again, from its start
    ],
    "taken over by a newer connection while up: the same slow retry": [
        *UP,
        ("fetch m1", ["message m1"]),
        ("error bridge_conflict", []),
        ("lost 4409", [CONFLICT_LOG, "reconnect in 60.0s"]),
        ("open", ["hello"]),
        ("welcome", ["message m1", "status"]),
    ],
    # --- the broker does not serve the bot ----------------------------------------------------
    "refused for a disabled bot: the broker's reason in the log, tried again in a minute": [
        ("open", ["hello"]),
        ("error bot_disabled", []),  # no hang-up: the broker's close follows
        (
            "lost 4403",
            [
                f"error: the broker does not serve bot {BOT} (close code 4403): boom. Trying again in 60 s",
                "reconnect in 60.0s",
            ],
        ),
        ("open", ["hello"]),
        ("welcome", ["status"]),
        ("lost", ["reconnect in 0.5s"]),
    ],
    "another close code gets the normal backoff": [
        ("open", ["hello"]),
        ("lost 1011", ["reconnect in 0.5s"]),
        ("lost 4401", ["reconnect in 1.0s"]),
    ],
}


@pytest.mark.parametrize("steps", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_each_event_gets_the_effects_the_protocol_asks_for(steps) -> None:
    link = link_new()
    for event, expected in steps:
        assert [describe(e) for e in feed(link, event)] == expected, event


def test_the_hello_names_the_protocol_the_bot_and_the_client() -> None:
    (hello,) = link_new().link_opened()
    assert hello == Emit(Hello(protocol=PROTOCOL_VERSION, bot_id=BOT, client="test-client", features=("typing",)))


def test_the_hello_names_the_bridge_instance_when_it_has_one() -> None:
    (hello,) = link_new(instance="f" * 32).link_opened()
    assert isinstance(hello, Emit)
    assert json.loads(hello.frame.to_json())["instance"] == "f" * 32
    assert CONFLICT_RETRY_SECONDS == 60.0


def test_without_typing_indicators_the_hello_asks_for_no_typing_frames() -> None:
    (hello,) = link_new(typing=False).link_opened()
    assert hello == Emit(Hello(protocol=PROTOCOL_VERSION, bot_id=BOT, client="test-client"))
    assert "features" not in json.loads(hello.frame.to_json())


@pytest.mark.parametrize(("typing", "shown"), [(True, [ShowTyping(USER)]), (False, [])])
def test_a_typing_frame_shows_the_indicator_again_when_asked_for(typing, shown) -> None:
    link = link_new(typing=typing)
    link.link_opened()
    link.received(json.dumps({"type": "welcome", "protocol": 1}))
    assert link.received(json.dumps({"type": "typing", "to": USER})) == shown


def test_links_are_numbered_from_one_and_the_welcome_makes_a_link_up() -> None:
    link = link_new()
    assert (link.link, link.up) == (0, False)
    link.link_opened()
    assert (link.link, link.up) == (1, False)
    feed(link, "welcome")
    assert (link.link, link.up) == (1, True)
    link.link_lost()
    assert link.up is False
    link.link_opened()  # a new socket: a new hello, a new welcome
    assert (link.link, link.up) == (2, False)


def test_a_message_goes_out_as_it_was_fetched() -> None:
    link = link_new()
    feed(link, "open")
    feed(link, "welcome")
    (emit,) = feed(link, "fetch m1")
    assert emit == Emit(msg("m1"))


def test_without_typing_an_accepted_message_shows_no_indicator() -> None:
    link = link_new(typing=False)
    for event in ("open", "welcome", "fetch m1"):
        feed(link, event)
    assert [describe(e) for e in feed(link, "ack m1")] == ["save cursor m1"]


def test_typing_is_on_and_delays_are_jittered_by_default() -> None:
    link = BrokerLink(bot_id=BOT, client="c", cursor="")
    assert link.typing
    (reconnect,) = link.link_lost()
    assert isinstance(reconnect, Reconnect)
    assert 0.25 <= reconnect.delay <= 0.5


def test_the_cursor_is_saved_with_the_latest_settled_hashes() -> None:
    assert RECENT_KEPT == 500
    link = BrokerLink(bot_id=BOT, client="c", cursor="old", settled=tuple(f"s{i}" for i in range(600)))
    (save,) = link.fetched([Fetched("new", None)])
    assert save == SaveCursor("new", (*(f"s{i}" for i in range(101, 600)), "new"))


def test_a_message_the_cursor_passed_before_a_restart_is_not_forwarded_again() -> None:
    link = BrokerLink(bot_id=BOT, client="c", cursor="m1", settled=("m1",))
    assert link.inbox.cursor == "m1"  # the stored cursor, until an ack moves it
    feed(link, "open")
    feed(link, "welcome")
    assert feed(link, "fetch m1") == []
    assert [describe(e) for e in feed(link, "fetch m2")] == ["message m2"]


def test_storage_retries_wait_up_to_a_minute_and_are_forgotten_once_settled() -> None:
    link = link_new()
    for event in ("open", "welcome", "fetch m1 m2"):
        feed(link, event)
    delays = [next(e.delay for e in feed(link, "error internal m1") if isinstance(e, RetryLater)) for _ in range(8)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    (other,) = [e for e in feed(link, "error internal m2") if isinstance(e, RetryLater)]
    assert other.delay == 1.0  # each message has its own backoff
    assert set(link.retries) == {"m1", "m2"}
    feed(link, "ack m1")
    feed(link, "error bad_frame m2")
    assert link.retries == {}


def test_reconnects_wait_up_to_thirty_seconds() -> None:
    link = link_new()
    delays = [e.delay for _ in range(8) for e in link.link_lost() if isinstance(e, Reconnect)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_the_errors_count_lost_links_and_failed_sends() -> None:
    link = link_new()
    assert link.errors == {"broker": 0, "send": 0}
    for event in ("lost", "open", "welcome", "send r1", "send r2", "send r3", "failed r1", "crash r2", "sent r3"):
        feed(link, event)
    feed(link, "lost")
    assert link.errors == {"broker": 2, "send": 2}


def test_notes_name_a_long_message_id_by_its_first_twelve_characters() -> None:
    long_id = "0123456789abcdef" * 4
    link = link_new()
    for event in ("open", "welcome", f"fetch {long_id}"):
        feed(link, event)
    assert [describe(e) for e in feed(link, f"ack {long_id} rejected")] == [
        "warning: broker rejected message 0123456789ab: not for this bot",
        f"save cursor {long_id}",
    ]
    feed(link, "written")
    feed(link, f"fetch {long_id[::-1]}")
    assert [describe(e) for e in feed(link, f"error bad_frame {long_id[::-1]}")] == [
        "warning: broker error bad_frame: boom",
        "error: the broker refused message fedcba987654 as a bad frame; dropped: boom",
        f"save cursor {long_id[::-1]}",
    ]


@pytest.mark.parametrize(
    ("waiting", "max_backlog", "max_backlog_bytes", "full"),
    [
        (2, 3, 1000, False),
        (3, 3, 1000, True),  # as many messages as allowed
        (2, 3, 4, True),  # two "hi" texts: as many bytes as allowed
        (2, 3, 5, False),
    ],
)
def test_the_poller_stops_at_either_backlog_limit(waiting, max_backlog, max_backlog_bytes, full) -> None:
    link = link_new(max_backlog=max_backlog, max_backlog_bytes=max_backlog_bytes)
    link.fetched([Fetched(f"m{i}", msg(f"m{i}")) for i in range(waiting)])
    assert link.backlog_full() is full


def test_the_backlog_holds_five_hundred_messages_or_two_hundred_megabytes_by_default() -> None:
    assert (MAX_BACKLOG, MAX_BACKLOG_BYTES) == (500, 200_000_000)
    link = link_new()
    assert (link.max_backlog, link.max_backlog_bytes) == (MAX_BACKLOG, MAX_BACKLOG_BYTES)
    link.fetched([Fetched(f"m{i}", msg(f"m{i}")) for i in range(MAX_BACKLOG - 1)])
    assert not link.backlog_full()
    link.fetched([Fetched("last", msg("last"))])
    assert link.backlog_full()
    feed(link, "open")
    feed(link, "welcome")
    feed(link, "ack m0")
    assert not link.backlog_full()  # an ack lets the poller go on
