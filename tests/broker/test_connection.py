"""``Connection``: one bridge connection's protocol, driven through every interleaving.

The core does no I/O, so each table row plays one order of events (frames from the bridge,
job results from the database, rings, clock ticks, the close) and checks, after each step
it names, the frames written and the jobs begun since the last check.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from bridgeprotocol.frames import MAX_FRAME_BYTES
from broker.connection import (
    ACCEPT_BATCH,
    ACTIVE_SECONDS,
    CLOSE_TOO_BIG,
    FAST_POLL_SECONDS,
    FRAME_FAILED,
    IDLE_POLL_SECONDS,
    POLL_LIMIT,
    RESCAN_SECONDS,
    STORE_FAILED,
    Connection,
)
from broker.connection_jobs import (
    AcceptMany,
    Close,
    ConfirmMany,
    Effect,
    FailStore,
    Found,
    Job,
    Note,
    ReadDue,
    ReadRung,
    StatusStore,
    StoreClose,
    StoreHello,
    Write,
)

BOT = "05" + "b0" * 32
USER = "05" + "ab" * 32
OTHER = "05" + "cd" * 32  # in the other of two lanes than USER
HELLO_AT = datetime(2026, 1, 1, tzinfo=UTC)


def hello_frame(**extra: Any) -> dict[str, Any]:
    return {"type": "hello", "protocol": 1, "bot_id": BOT, "client": "tests/1", **extra}


def message_frame(mid: str, sender: str = USER) -> dict[str, Any]:
    return {
        "type": "message",
        "id": mid,
        "from": sender,
        "conversation": sender,
        "conversation_type": "private",
        "timestamp": 1,
        "text": "/ping",
    }


def send_frame(ref: str) -> dict[str, Any]:
    return {"type": "send", "ref": ref, "to": USER, "text": f"text of {ref}"}


def found(*refs: str, high_id: int = 0, more: bool = False) -> Found:
    return Found(sends=[send_frame(ref) for ref in refs], high_id=high_id, more=more)


def job_name(job: Job) -> str:
    match job:
        case StoreHello():
            return f"hello {job.client}"
        case AcceptMany():
            return f"accept {job.lane}: " + ",".join(message.id for message in job.messages)
        case ConfirmMany():
            return "confirm " + ",".join(ref for ref, _, _ in job.confirms)
        case FailStore():
            return f"fail {job.ref}" + (" retry" if job.retry else "")
        case StatusStore():
            return "status"
        case ReadRung():
            return "rung " + ",".join(job.refs)
        case ReadDue():
            return f"poll from {job.after_id}" + ("" if job.due_only else " all")
        case StoreClose():
            return "close"
    raise AssertionError(job)


def written_name(effect: Write | Close) -> str:
    if isinstance(effect, Close):
        return f"close {effect.code}"
    frame = effect.frame
    match frame["type"]:
        case "ack":
            return f"ack {frame['id']} {frame['status']}"
        case "error":
            return f"error {frame['code']} {frame.get('id')}"
        case "send":
            return f"send {frame['ref']}"
    return frame["type"]


class Driver:
    """Plays steps on a ``Connection`` and remembers what it asked for."""

    def __init__(self, *, lanes: int = 1, rung: bool = False) -> None:
        self.core = Connection(lanes=lanes, rung=rung)
        self.now = 0.0
        self.jobs: dict[str, Job] = {}  # begun, not done
        self.begun: list[str] = []  # since the last check
        self.written: list[str] = []
        self.frames: list[dict[str, Any]] = []  # every frame written
        self.notes: list[Note] = []

    def take(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Write | Close):
                self.written.append(written_name(effect))
                if isinstance(effect, Write):
                    self.frames.append(effect.frame)
            elif isinstance(effect, Note):
                self.notes.append(effect)
            else:
                name = job_name(effect)
                assert name not in self.jobs, f"{name} begun twice"
                self.jobs[name] = effect
                self.begun.append(name)

    def frame(self, frame: dict[str, Any] | str | bytes) -> None:
        raw = frame if isinstance(frame, str | bytes) else json.dumps(frame)
        self.take(self.core.frame_received(raw))

    def done(self, name: str, result: Any = None) -> None:
        job = self.jobs.pop(name)
        if result is None and isinstance(job, StoreHello):
            result = SimpleNamespace(connected_at=HELLO_AT, another_open=False, bot=1, refused="")
        if isinstance(job, AcceptMany) and isinstance(result, list):
            result = [SimpleNamespace(status=r, reason=None) if isinstance(r, str) else r for r in result]
        if isinstance(job, ReadRung | ReadDue) and isinstance(result, list):
            result = found(*result)
        self.take(self.core.job_done(job, result, now=self.now))

    def fail(self, name: str) -> None:
        self.take(self.core.job_failed(self.jobs.pop(name), now=self.now))

    def play(self, step: tuple[Any, ...]) -> None:
        match step:
            case ("hello", *extra):
                self.frame(hello_frame(**dict(extra)))
            case ("msg", mid):
                self.frame(message_frame(mid))
            case ("msg", mid, sender):
                self.frame(message_frame(mid, sender))
            case ("sent", ref):
                self.frame({"type": "sent", "ref": ref, "hash": f"H-{ref}", "timestamp": 1})
            case ("failed", ref, retry):
                self.frame({"type": "failed", "ref": ref, "reason": "offline", "retry": retry})
            case ("status",):
                self.frame({"type": "status", "polling": True})
            case ("frame", raw):
                self.frame(raw)
            case ("ring", refs, poll):
                self.take(self.core.ring(tuple(refs), poll=poll, now=self.now))
            case ("at", now):
                self.now = now
            case ("tick",):
                self.take(self.core.tick(now=self.now))
            case ("close",):
                self.take(self.core.close())
            case ("done", name):
                self.done(name)
            case ("done", name, result):
                self.done(name, result)
            case ("fail", name):
                self.fail(name)
            case ("wrote", expected):
                assert self.written == expected, step
                self.written = []
            case ("began", expected):
                assert self.begun == expected, step
                self.begun = []
            case ("holding", expected):
                assert self.core.holding is expected, step
            case _:
                raise AssertionError(f"unknown step {step}")


# A connection that said hello and whose first poll found nothing: the start of most rows.
CONNECTED: list[tuple[Any, ...]] = [
    ("hello",),
    ("began", ["hello tests/1"]),
    ("done", "hello tests/1"),
    ("wrote", ["welcome"]),
    ("began", ["poll from 0 all"]),
    ("done", "poll from 0 all", []),
    ("wrote", []),
    ("began", []),
]

INTERLEAVINGS: dict[str, list[tuple[Any, ...]]] = {
    # --- the ack comes before the answer ------------------------------------------------
    "an answer read by a poll that waited its turn still follows its ack": [
        ("at", 2.0),
        ("tick",),
        ("began", ["poll from 0"]),  # waits its turn on the database
        ("msg", "m1"),
        ("began", ["accept 0: m1"]),  # commits m1 and its answer b1 before the poll reads
        ("done", "poll from 0", ["b1"]),
        ("wrote", []),  # m1's batch began before the poll returned: b1 waits for its ack
        ("done", "accept 0: m1", ["accepted"]),
        ("wrote", ["ack m1 accepted", "send b1"]),
    ],
    "an answer read by a ring while its batch is stored waits for the batch's acks": [
        ("msg", "m1"),
        ("ring", ["b1"], False),
        ("began", ["accept 0: m1", "rung b1"]),
        ("done", "rung b1", ["b1"]),
        ("wrote", []),
        ("done", "accept 0: m1", ["accepted"]),
        ("wrote", ["ack m1 accepted", "send b1"]),
    ],
    "sends of a read wait for the batches of every lane begun by its return": [
        ("msg", "m1", USER),
        ("msg", "m2", OTHER),
        ("ring", ["b1", "b2"], False),
        ("began", ["accept 0: m1", "accept 1: m2", "rung b1,b2"]),
        ("done", "rung b1,b2", ["b1", "b2"]),
        ("done", "accept 1: m2", ["accepted"]),  # the lanes finish out of order
        ("wrote", ["ack m2 accepted"]),
        ("done", "accept 0: m1", ["accepted"]),
        ("wrote", ["ack m1 accepted", "send b1", "send b2"]),
    ],
    "a read that found nothing waits for no batch": [
        ("msg", "m1"),
        ("ring", ["b1"], False),
        ("began", ["accept 0: m1", "rung b1"]),
        ("done", "rung b1", []),
        ("ring", ["b2"], False),
        ("began", ["rung b2"]),  # the next read is not held up by m1's batch
    ],
    "a batch begun after the read returned does not hold its sends": [
        ("ring", ["b1"], False),
        ("began", ["rung b1"]),
        ("done", "rung b1", ["b1"]),
        ("msg", "m1"),
        ("wrote", ["send b1"]),
        ("began", ["accept 0: m1"]),
    ],
    "a batch that failed releases the sends waiting for it, after its errors": [
        ("msg", "m1"),
        ("ring", ["b1"], False),
        ("done", "rung b1", ["b1"]),
        ("fail", "accept 0: m1"),
        ("wrote", ["error internal m1", "send b1"]),
    ],
    # --- the ledger: a send is pushed once until answered --------------------------------
    "a send confirmed while its confirm is being stored is not pushed again": [
        ("ring", ["r1", "r2"], False),
        ("done", "rung r1,r2", ["r1", "r2"]),
        ("wrote", ["send r1", "send r2"]),
        ("at", 2.0),
        ("tick",),
        ("began", ["rung r1,r2", "poll from 0"]),  # reads r1 and r2 pending, waits its turn
        ("sent", "r1"),
        ("sent", "r2"),
        ("began", ["confirm r1"]),  # r2 waits for the confirm under way
        ("done", "confirm r1"),
        ("began", ["confirm r2"]),
        ("done", "poll from 0", ["r1", "r2"]),  # its snapshot is older than the confirms
        ("done", "confirm r2"),
        ("wrote", []),
        ("at", 4.0),
        ("tick",),
        ("done", "poll from 0", ["r1", "r2"]),  # still pending after their confirms: pushed again
        ("wrote", ["send r1", "send r2"]),
    ],
    "a send found by a ring and a poll at once is pushed once": [
        ("at", 2.0),
        ("ring", ["r1"], False),
        ("began", ["rung r1"]),
        ("done", "rung r1", ["r1"]),
        ("began", ["poll from 0"]),  # its interval passed while the ring was read
        ("done", "poll from 0", ["r1"]),
        ("wrote", ["send r1"]),
    ],
    "a ring during an in-flight read is read after it": [
        ("ring", ["r1"], False),
        ("began", ["rung r1"]),
        ("ring", ["r2"], False),
        ("ring", ["r3", "r2"], False),
        ("began", []),  # one read at a time
        ("done", "rung r1", ["r1"]),
        ("wrote", ["send r1"]),
        ("began", ["rung r2,r3"]),
    ],
    "a ring that asks for a poll gets one after the read under way": [
        ("ring", ["r1"], False),
        ("ring", [], True),
        ("began", ["rung r1"]),
        ("done", "rung r1", []),
        ("began", ["poll from 0"]),
    ],
    "a poll that hit its limit is followed by another at once": [
        ("at", 2.0),
        ("tick",),
        ("done", "poll from 0", found("r1", high_id=7, more=True)),
        ("wrote", ["send r1"]),
        ("began", ["poll from 0", "poll from 0"]),
    ],
    "a send answered twice is confirmed twice and pushed once": [
        ("ring", ["r1"], False),
        ("done", "rung r1", ["r1"]),
        ("sent", "r1"),
        ("sent", "r1"),  # the bridge answers a ref it sent before with sent again
        ("done", "confirm r1"),
        ("began", ["rung r1", "confirm r1", "confirm r1"]),
        ("done", "confirm r1"),
        ("wrote", ["send r1"]),
    ],
    "a confirm that could not be stored leaves the send to a later read": [
        ("ring", ["r1"], False),
        ("done", "rung r1", ["r1"]),
        ("sent", "r1"),
        ("fail", "confirm r1"),
        ("ring", ["r1"], False),
        ("done", "rung r1", ["r1"]),
        ("wrote", ["send r1", "send r1"]),
    ],
    # --- messages ----------------------------------------------------------------------------
    "messages that arrive while a batch is stored make the next batch": [
        ("msg", "m1"),
        ("msg", "m2"),
        ("msg", "m3"),
        ("began", ["accept 0: m1"]),
        ("done", "accept 0: m1", ["accepted"]),
        ("wrote", ["ack m1 accepted"]),
        ("began", ["accept 0: m2,m3", "poll from 0"]),  # its answers were stored with it
        ("done", "accept 0: m2,m3", ["duplicate", "rejected"]),
        ("wrote", ["ack m2 duplicate", "ack m3 rejected"]),
        ("began", []),  # nothing accepted: no poll
    ],
    "a message the store could not keep alone gets an error, the others their acks": [
        ("msg", "m1"),
        ("msg", "m2"),
        ("msg", "m3"),
        ("done", "accept 0: m1", ["rejected"]),
        ("done", "accept 0: m2,m3", ["failed", "accepted"]),
        ("wrote", ["ack m1 rejected", "error internal m2", "ack m3 accepted"]),
    ],
    "a message the same id again is answered as the store says": [
        ("msg", "m1"),
        ("done", "accept 0: m1", ["accepted"]),
        ("msg", "m1"),
        ("done", "accept 0: m1", ["duplicate"]),
        ("wrote", ["ack m1 accepted", "ack m1 duplicate"]),
    ],
    "senders in two lanes are stored side by side": [
        ("msg", "m1", USER),
        ("msg", "m2", OTHER),
        ("msg", "m3", USER),
        ("began", ["accept 0: m1", "accept 1: m2"]),
        ("done", "accept 0: m1", ["accepted"]),
        ("began", ["accept 0: m3", "poll from 0"]),
    ],
    "a batch waits for the confirms received before it": [
        ("ring", ["r1"], False),
        ("done", "rung r1", ["r1"]),
        ("sent", "r1"),
        ("msg", "m1"),
        ("began", ["rung r1", "confirm r1"]),
        ("sent", "r2"),  # after m1: m1 does not wait for it
        ("done", "confirm r1"),
        ("began", ["confirm r2", "accept 0: m1"]),
    ],
    "a batch cut later waits only for the confirms seen when it was cut": [
        ("msg", "m1"),
        ("sent", "r1"),
        ("msg", "m2"),  # cut when m1's batch is stored: waits for r1
        ("began", ["accept 0: m1", "confirm r1"]),
        ("done", "accept 0: m1", ["duplicate"]),
        ("began", []),
        ("sent", "r2"),  # after the batch was due: it does not wait for r2
        ("done", "confirm r1"),
        ("began", ["confirm r2", "accept 0: m2"]),
    ],
    # --- frames in order -------------------------------------------------------------------
    "a hello waits for the confirms before it, and the frames after it wait for the hello": [
        ("ring", ["r1"], False),
        ("done", "rung r1", ["r1"]),
        ("sent", "r1"),
        ("hello", ("client", "tests/2")),
        ("msg", "m1"),
        ("holding", True),
        ("began", ["rung r1", "confirm r1"]),
        ("done", "confirm r1"),
        ("began", ["hello tests/2"]),
        ("holding", True),
        ("done", "hello tests/2"),
        ("holding", False),
        ("wrote", ["send r1", "welcome"]),
        ("began", ["poll from 0 all", "accept 0: m1"]),
    ],
    "a failed waits for the confirms before it, then asks for its send by ref": [
        ("ring", ["r1", "r2"], False),
        ("done", "rung r1,r2", ["r1", "r2"]),
        ("sent", "r1"),
        ("failed", "r2", True),
        ("began", ["rung r1,r2", "confirm r1"]),
        ("done", "confirm r1"),
        ("began", ["fail r2 retry"]),
        ("ring", ["r2"], False),
        ("done", "rung r2", ["r2"]),  # its backoff is not stored yet: not pushed
        ("done", "fail r2 retry"),
        ("ring", ["r2"], False),
        ("done", "rung r2", ["r2"]),
        ("wrote", ["send r1", "send r2", "send r2"]),
    ],
    "a failed without retry is not asked for by ref": [
        ("ring", ["r1"], False),
        ("done", "rung r1", ["r1"]),
        ("failed", "r1", False),
        ("done", "fail r1"),
        ("began", ["rung r1", "fail r1"]),
    ],
    "a failed whose store failed is answered internal and the send pushed again later": [
        ("ring", ["r1"], False),
        ("done", "rung r1", ["r1"]),
        ("failed", "r1", True),
        ("fail", "fail r1 retry"),
        ("holding", False),
        ("ring", ["r1"], False),
        ("done", "rung r1", ["r1"]),
        ("wrote", ["send r1", "error internal None", "send r1"]),
    ],
    "a status is stored and the frames after it wait": [
        ("status",),
        ("msg", "m1"),
        ("began", ["status"]),
        ("holding", True),
        ("done", "status"),
        ("began", ["accept 0: m1"]),
    ],
    "a status whose store failed is answered internal": [
        ("status",),
        ("fail", "status"),
        ("wrote", ["error internal None"]),
        ("holding", False),
    ],
    "a bad frame between good ones is answered in its turn": [
        ("status",),
        ("frame", '{"type": "sent"}'),
        ("frame", "not json"),
        ("frame", b'{"type": "status"}'),
        ("frame", '{"type": "ack", "id": "x", "status": "accepted"}'),
        ("wrote", []),
        ("done", "status"),
        (
            "wrote",
            [
                "error bad_frame None",
                "error bad_frame None",
                "error bad_frame None",
                "error bad_frame None",
            ],
        ),
    ],
    "a message whose id holds a lone surrogate is refused whole": [
        ("frame", json.dumps(message_frame("m\ud800"))),
        ("wrote", ["error bad_frame m\ud800"]),
        ("began", []),
    ],
    # --- the close ---------------------------------------------------------------------------
    "acks after the close are not written and the close is recorded after them": [
        ("msg", "m1"),
        ("msg", "m2"),
        ("sent", "r1"),
        ("ring", ["b1"], False),
        ("began", ["accept 0: m1", "confirm r1", "rung b1"]),
        ("close",),
        ("began", []),
        ("done", "accept 0: m1", ["accepted"]),  # m2 was dropped unacked: the bridge sends it again
        ("done", "rung b1", ["b1"]),
        ("began", []),
        ("done", "confirm r1"),
        ("wrote", []),
        ("began", ["close"]),
    ],
    "a batch that fails after the close writes nothing": [
        ("msg", "m1"),
        ("close",),
        ("fail", "accept 0: m1"),
        ("wrote", []),
        ("began", ["accept 0: m1", "close"]),
    ],
    "a close with nothing under way is recorded at once": [
        ("close",),
        ("began", ["close"]),
        ("tick",),
        ("ring", ["r1"], False),
        ("msg", "m1"),
        ("began", []),
        ("wrote", []),
    ],
    "a close waits for the status under way": [
        ("status",),
        ("close",),
        ("began", ["status"]),
        ("fail", "status"),
        ("wrote", []),
        ("began", ["close"]),
    ],
    # --- hello again ---------------------------------------------------------------------------
    "a second hello pushes every pending send again": [
        ("ring", ["r1"], False),
        ("done", "rung r1", ["r1"]),
        ("hello",),
        ("done", "hello tests/1"),
        ("done", "poll from 0 all", ["r1"]),
        ("wrote", ["send r1", "welcome", "send r1"]),
    ],
    "a hello whose store failed is answered internal and changes nothing": [
        ("hello", ("client", "tests/2")),
        ("fail", "hello tests/2"),
        ("wrote", ["error internal None"]),
        ("began", ["hello tests/2"]),
        ("holding", False),
        ("at", 0.5),
        ("tick",),
        ("began", []),  # the first hello's pump polls at its pace
    ],
    "a failed ring read backs off to the idle poll": [
        ("msg", "m1"),
        ("done", "accept 0: m1", ["accepted"]),  # polls come fast now
        ("began", ["accept 0: m1", "poll from 0"]),
        ("done", "poll from 0", []),
        ("ring", ["r1"], False),
        ("fail", "rung r1"),
        ("at", FAST_POLL_SECONDS),
        ("tick",),
        ("began", ["rung r1"]),
        ("at", IDLE_POLL_SECONDS),
        ("tick",),
        ("began", ["poll from 0"]),
    ],
    "a read waits for the acks of a lane's later batches too": [
        ("msg", "m1"),
        ("msg", "m2"),
        ("done", "accept 0: m1", ["accepted"]),
        ("began", ["accept 0: m1", "accept 0: m2", "poll from 0"]),
        ("done", "poll from 0", ["b2"]),
        ("wrote", ["ack m1 accepted"]),  # m2's batch began before the poll returned
        ("done", "accept 0: m2", ["accepted"]),
        ("wrote", ["ack m2 accepted", "send b2"]),
    ],
    "a ring that asks for a poll gets one at once": [
        ("ring", [], True),
        ("began", ["poll from 0"]),
    ],
    "a hello waits for every confirm before it, stored in turn": [
        ("sent", "r1"),
        ("sent", "r2"),
        ("began", ["confirm r1"]),
        ("hello", ("client", "tests/2")),
        ("done", "confirm r1"),
        ("began", ["confirm r2"]),
        ("done", "confirm r2"),
        ("began", ["hello tests/2"]),
    ],
    "frames held behind a status are all taken when it is stored": [
        ("status",),
        ("sent", "r1"),
        ("msg", "m1"),
        ("done", "status"),
        ("began", ["status", "confirm r1"]),  # m1 waits for r1's confirm
        ("done", "confirm r1"),
        ("began", ["accept 0: m1"]),
    ],
    "a second close changes nothing": [
        ("close",),
        ("began", ["close"]),
        ("close",),
        ("began", []),
    ],
    "a hello with a field that breaks a rule is refused and not stored": [
        ("hello", ("protocol", 2)),
        ("wrote", ["error bad_frame None"]),
        ("began", []),
    ],
    "a failed rescan is made again in full": [
        ("at", 1.0),
        ("tick",),
        ("done", "poll from 0", found(high_id=9)),
        ("at", 3.0),
        ("tick",),
        ("done", "poll from 0", found(high_id=9)),
        ("at", RESCAN_SECONDS + 0.5),
        ("tick",),
        ("began", ["poll from 0", "poll from 0", "poll from 0"]),
        ("fail", "poll from 0"),
        ("at", RESCAN_SECONDS + 0.5 + IDLE_POLL_SECONDS),
        ("tick",),
        ("began", ["poll from 0"]),
    ],
}


# Rows played on a connection that has not said hello yet.
FROM_THE_START: dict[str, list[tuple[Any, ...]]] = {
    "a message before hello gets no_hello": [
        ("msg", "m1"),
        ("wrote", ["error no_hello m1"]),
        ("began", []),
    ],
    "a ring before hello is left to the first poll": [
        ("ring", ["r1"], True),
        ("hello",),
        ("done", "hello tests/1"),
        ("began", ["hello tests/1", "poll from 0 all"]),
    ],
    "a status before hello is not stored": [
        ("status",),
        ("began", []),
        ("wrote", []),
        ("holding", False),
    ],
    "a close before hello records nothing": [
        ("close",),
        ("began", []),
    ],
    "a hello recorded after the close is recorded closed, unanswered": [
        ("hello",),
        ("close",),
        ("began", ["hello tests/1"]),
        ("done", "hello tests/1"),
        ("wrote", []),
        ("began", ["close"]),
    ],
    "a failed poll is made again at the idle pace, asking for the same": [
        ("hello",),
        ("done", "hello tests/1"),
        ("fail", "poll from 0 all"),
        ("tick",),
        ("at", IDLE_POLL_SECONDS - 0.01),
        ("tick",),
        ("began", ["hello tests/1", "poll from 0 all"]),
        ("at", IDLE_POLL_SECONDS),
        ("tick",),
        ("began", ["poll from 0 all"]),  # a reconnect's sends in backoff too
    ],
}


@pytest.mark.parametrize("steps", INTERLEAVINGS.values(), ids=INTERLEAVINGS.keys())
def test_each_interleaving_writes_what_the_protocol_says(steps) -> None:
    driver = Driver(lanes=2)
    for step in [*CONNECTED, *steps]:
        driver.play(step)


@pytest.mark.parametrize("steps", FROM_THE_START.values(), ids=FROM_THE_START.keys())
def test_before_hello_each_interleaving_writes_what_the_protocol_says(steps) -> None:
    driver = Driver(lanes=2)
    for step in steps:
        driver.play(step)


def connected(*, rung: bool = False, lanes: int = 1) -> Driver:
    driver = Driver(rung=rung, lanes=lanes)
    for step in CONNECTED:
        driver.play(step)
    driver.frames = []
    return driver


def the_poll(driver: Driver) -> ReadDue:
    (job,) = (job for job in driver.jobs.values() if isinstance(job, ReadDue))
    return job


def test_a_poll_asks_for_the_retries_by_ref_and_skips_the_sends_awaiting_answers() -> None:
    driver = connected()
    driver.play(("ring", ["r1", "r2", "r3"], False))
    driver.done("rung r1,r2,r3", ["r1", "r2", "r3"])
    driver.play(("failed", "r1", True))
    driver.done("fail r1 retry")
    driver.play(("sent", "r2"))  # its confirm being stored
    driver.play(("at", IDLE_POLL_SECONDS))
    driver.play(("tick",))
    poll = the_poll(driver)
    assert poll.retry_refs == {"r1"}
    assert poll.skip_refs == {"r2", "r3"}
    assert poll.limit == POLL_LIMIT + 1  # r3 is in flight: it comes back too
    assert (poll.after_id, poll.due_only) == (0, True)


def test_a_poll_starts_from_the_highest_id_seen_a_while_ago_and_rescans_now_and_then() -> None:
    driver = connected()
    starts = []
    for second in range(1, 8):
        driver.play(("at", float(second)))
        driver.play(("tick",))
        poll = the_poll(driver)
        starts.append(poll.after_id)
        driver.done(job_name(poll), found(high_id=second * 10))
    # Each poll notes the highest id seen so far; the next starts from the one noted at least
    # a second before it. Past RESCAN_SECONDS since the last full scan, one starts from 0.
    assert starts == [0, 0, 10, 20, 30, 0, 40]  # a full scan notes nothing


def test_a_rescan_happens_when_more_than_its_period_passed() -> None:
    driver = connected()
    for now in (1.0, 3.0, RESCAN_SECONDS, RESCAN_SECONDS + 1.5):
        driver.play(("at", now))
        driver.play(("tick",))
        poll = the_poll(driver)
        driver.done(job_name(poll), found(high_id=9))
    assert driver.begun == ["poll from 0", "poll from 0", "poll from 9", "poll from 0"]


def test_polls_come_fast_while_messages_flow_and_idle_after() -> None:
    driver = connected()
    assert driver.core.deadline(now=0.0) == IDLE_POLL_SECONDS
    driver.play(("msg", "m1"))
    driver.done("accept 0: m1", ["accepted"])
    driver.done("poll from 0", [])
    assert driver.core.deadline(now=0.0) == FAST_POLL_SECONDS
    assert driver.core.deadline(now=ACTIVE_SECONDS - 0.001) == FAST_POLL_SECONDS
    assert driver.core.deadline(now=ACTIVE_SECONDS) == IDLE_POLL_SECONDS
    driver.play(("at", FAST_POLL_SECONDS / 2))
    driver.play(("tick",))
    assert driver.begun == ["accept 0: m1", "poll from 0"]  # the one after the accepted batch, none since


def test_a_push_keeps_the_fast_polls_going() -> None:
    driver = connected()
    driver.play(("at", 3.0))
    driver.play(("ring", ["r1"], False))
    driver.done("rung r1", ["r1"])
    assert driver.core.active_until == 3.0 + ACTIVE_SECONDS
    driver.done("poll from 0", [])  # its interval had passed
    driver.play(("ring", ["r2"], False))
    driver.play(("at", 4.0))
    driver.done("rung r2", [])
    assert driver.core.active_until == 3.0 + ACTIVE_SECONDS  # nothing pushed: unchanged


def test_a_batch_with_nothing_accepted_keeps_the_idle_pace() -> None:
    driver = connected()
    driver.play(("msg", "m1"))
    driver.done("accept 0: m1", ["duplicate"])
    assert driver.core.deadline(now=0.0) == IDLE_POLL_SECONDS
    assert driver.begun == ["accept 0: m1"]


def test_with_a_shared_channel_layer_the_rings_bring_the_sends_and_the_poll_stays_idle() -> None:
    driver = connected(rung=True)
    driver.play(("msg", "m1"))
    driver.done("accept 0: m1", ["accepted"])
    assert driver.begun == ["accept 0: m1"]  # its answers are rung, not polled for
    assert driver.core.deadline(now=0.0) == IDLE_POLL_SECONDS
    driver.play(("at", IDLE_POLL_SECONDS - 0.001))
    driver.play(("tick",))
    driver.play(("at", IDLE_POLL_SECONDS))
    driver.play(("tick",))
    assert driver.begun == ["accept 0: m1", "poll from 0"]


def test_no_deadline_while_a_read_is_under_way_before_hello_or_after_the_close() -> None:
    assert Driver().core.deadline(now=5.0) is None
    driver = connected()
    driver.play(("ring", ["r1"], False))
    assert driver.core.deadline(now=5.0) is None
    driver.done("rung r1", [])
    assert driver.core.deadline(now=5.0) == IDLE_POLL_SECONDS
    driver.play(("close",))
    assert driver.core.deadline(now=5.0) is None


def test_a_frame_too_big_closes_the_connection() -> None:
    driver = connected()
    big = "x" * (MAX_FRAME_BYTES + 1)
    driver.play(("frame", big))
    driver.play(("frame", big.encode()))
    driver.play(("wrote", [f"close {CLOSE_TOO_BIG}", f"close {CLOSE_TOO_BIG}"]))


def test_a_frame_is_measured_in_bytes() -> None:
    driver = connected()
    driver.play(("frame", "x" * MAX_FRAME_BYTES))  # at the limit: read, and refused as not JSON
    driver.play(("frame", "é" * (MAX_FRAME_BYTES // 2 + 1)))  # fewer characters, more bytes
    assert driver.written == ["error bad_frame None", f"close {CLOSE_TOO_BIG}"]


def test_a_binary_frame_is_refused_in_words() -> None:
    driver = connected()
    driver.play(("frame", b'{"type": "status"}'))
    assert driver.frames == [
        {"type": "error", "code": "bad_frame", "detail": "frames must be JSON in text frames, not binary"}
    ]


def test_a_frame_a_bridge_does_not_send_is_named() -> None:
    driver = connected()
    driver.play(("frame", {"type": "welcome", "protocol": 1}))
    assert driver.frames == [
        {"type": "error", "code": "bad_frame", "detail": "a bridge does not send 'welcome' frames"}
    ]


def test_frames_written_are_the_protocols() -> None:
    driver = connected()
    driver.play(("msg", "m1"))
    driver.done("accept 0: m1", [SimpleNamespace(status="rejected", reason="too long")])
    driver.play(("msg", "m2"))
    driver.fail("accept 0: m2")
    driver.play(("status",))
    driver.fail("status")
    assert driver.frames == [
        {"type": "ack", "id": "m1", "status": "rejected", "reason": "too long"},
        {"type": "error", "code": "internal", "detail": STORE_FAILED, "id": "m2"},
        {"type": "error", "code": "internal", "detail": FRAME_FAILED},
    ]


def test_the_stores_get_the_frames_fields() -> None:
    driver = connected()
    driver.play(("status",))
    assert driver.jobs["status"] == StatusStore(bot_id=BOT, fields={"type": "status", "polling": True})
    driver.done("status")
    driver.play(("sent", "r1"))
    assert driver.jobs["confirm r1"] == ConfirmMany(confirms=(("r1", "H-r1", 1),))
    driver.done("confirm r1")
    driver.play(("failed", "r2", True))
    assert driver.jobs["fail r2 retry"] == FailStore(ref="r2", reason="offline", retry=True)
    driver.play(("close",))
    driver.done("fail r2 retry")
    assert driver.jobs["close"] == StoreClose(bot_id=BOT, connected_at=HELLO_AT)


def test_a_batch_holds_at_most_its_limit_of_messages() -> None:
    driver = connected()
    for index in range(ACCEPT_BATCH + 2):
        driver.play(("msg", f"m{index}"))
    driver.done("accept 0: m0", ["accepted"])
    (batch,) = (job for job in driver.jobs.values() if isinstance(job, AcceptMany))
    assert len(batch.messages) == ACCEPT_BATCH
    assert batch.bot_id == BOT
    driver.done(job_name(batch), ["accepted"] * ACCEPT_BATCH)
    assert "accept 0: m65" in driver.jobs


def test_the_hello_says_who_connected_and_warns_of_another_connection_open() -> None:
    driver = Driver(lanes=1, rung=False)
    driver.play(("hello",))
    assert driver.jobs["hello tests/1"] == StoreHello(bot_id=BOT, client="tests/1", protocol=1)
    driver.done("hello tests/1", SimpleNamespace(connected_at=HELLO_AT, another_open=True, bot=1, refused=""))
    assert driver.notes == [
        Note(
            logging.WARNING,
            f"the bridge of bot {BOT} said hello while another connection of it was open: a reconnect whose "
            "old connection has not closed yet, a broker process that stopped without closing it, or a second "
            "bridge (run one bridge per bot, or users may get replies twice)",
        ),
        Note(logging.INFO, "bridge said hello: protocol 1, client tests/1"),
    ]
    driver.play(("hello",))  # its own connection is the other one now
    driver.done("hello tests/1", SimpleNamespace(connected_at=HELLO_AT, another_open=True, bot=1, refused=""))
    assert driver.notes[2:] == [Note(logging.INFO, "bridge said hello: protocol 1, client tests/1")]


def test_a_long_client_name_is_cut_in_the_log() -> None:
    driver = Driver()
    driver.play(("hello", ("client", "c" * 100)))
    driver.done("hello " + "c" * 100)
    assert driver.notes == [Note(logging.INFO, "bridge said hello: protocol 1, client " + "c" * 60)]


def test_holding_while_a_hello_waits_for_its_confirms() -> None:
    driver = connected()
    driver.play(("sent", "r1"))
    assert not driver.core.holding
    driver.play(("failed", "r2", False))
    assert driver.core.holding
    driver.done("confirm r1")
    assert driver.core.holding  # its own store now
    driver.done("fail r2")
    assert not driver.core.holding


def test_a_message_before_hello_is_told_to_say_hello() -> None:
    driver = Driver(lanes=1, rung=False)
    driver.play(("msg", "m1"))
    assert driver.frames == [
        {"type": "error", "code": "no_hello", "detail": "say hello before sending messages", "id": "m1"}
    ]
    assert driver.core.closed is False


def test_a_sender_with_a_lone_surrogate_is_left_to_its_batch() -> None:
    driver = connected()
    driver.play(("frame", json.dumps(message_frame("m1", "05ab\ud800"))))
    assert driver.begun == ["accept 0: m1"]  # rejected there, alone


def test_a_store_answers_each_message_of_its_batch() -> None:
    driver = connected()
    driver.play(("msg", "m1"))
    with pytest.raises(ValueError, match="zip"):
        driver.done("accept 0: m1", [])
