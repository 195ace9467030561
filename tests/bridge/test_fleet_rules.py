"""The pure decisions of a bridge process serving many bots: which bridges to start, stop and
restart, and which bot's poll round is due. Plain tables, no threads, no clock."""

from __future__ import annotations

import pytest

from bridge.fleet import FleetPlan, fleet_plan
from bridge.polling import DueQueue


@pytest.mark.parametrize(
    ("running", "wanted", "unreadable", "plan"),
    [
        ({}, {}, (), FleetPlan()),
        ({}, {"a": 1, "b": 1}, (), FleetPlan(start=("a", "b"))),
        ({"a": 1}, {"a": 1}, (), FleetPlan()),
        ({"a": 1, "b": 1}, {"a": 1}, (), FleetPlan(stop=("b",))),
        ({"a": 1}, {"a": 2}, (), FleetPlan(restart=("a",))),
        ({"a": 1, "b": 1}, {"b": 2, "c": 1}, (), FleetPlan(start=("c",), stop=("a",), restart=("b",))),
        # a bot whose key or settings cannot be read is left as it was, running or not
        ({"a": 1}, {}, ("a",), FleetPlan()),
        ({}, {}, ("a",), FleetPlan()),
        ({"a": 1, "b": 1}, {"b": 1}, ("a",), FleetPlan()),
        ({"a": 1}, {"a": 2}, ("a",), FleetPlan()),
    ],
)
def test_the_plan_makes_the_running_bots_the_wanted_ones(running, wanted, unreadable, plan) -> None:
    assert fleet_plan(running=running, wanted=wanted, unreadable=unreadable) == plan


def test_an_empty_plan_is_false_and_any_change_is_true() -> None:
    assert not FleetPlan()
    assert FleetPlan(restart=("a",))


def run(steps: list[tuple]) -> list[object]:
    """Drive a DueQueue through ``steps``; collect what each pop and next_at answers."""
    due: DueQueue[str] = DueQueue()
    seen: list[object] = []
    for step in steps:
        op, *args = step
        if op == "schedule":
            due.schedule(args[0], args[1])
        elif op == "wake":
            due.wake(args[0], args[1])
        elif op == "remove":
            due.remove(args[0])
        elif op == "done":
            due.done(args[0], now=args[1], delay=args[2])
        elif op == "pop":
            seen.append(due.pop_due(args[0]))
        elif op == "next":
            seen.append(due.next_at())
    return seen


@pytest.mark.parametrize(
    ("steps", "answers"),
    [
        # nothing is due before its time; the earliest comes first
        (
            [("schedule", "a", 5.0), ("schedule", "b", 3.0), ("pop", 2.0), ("next",), ("pop", 6.0), ("pop", 6.0)],
            [None, 3.0, "b", "a"],
        ),
        # a running bot is never handed out twice, and is due again after its delay
        (
            [
                ("schedule", "a", 0.0),
                ("pop", 1.0),
                ("schedule", "a", 1.0),
                ("pop", 2.0),
                ("done", "a", 2.0, 5.0),
                ("pop", 6.0),
                ("pop", 7.0),
            ],
            ["a", None, None, "a"],
        ),
        # a wake makes a waiting bot due now
        ([("schedule", "a", 10.0), ("wake", "a", 2.0), ("next",), ("pop", 2.0)], [2.0, "a"]),
        # a wake never postpones a bot that is due earlier
        ([("schedule", "a", 1.0), ("wake", "a", 2.0), ("next",)], [1.0]),
        # a wake during a round makes the bot due as soon as the round ends, not after its delay
        ([("schedule", "a", 0.0), ("pop", 0.0), ("wake", "a", 0.5), ("done", "a", 1.0, 5.0), ("pop", 1.0)], ["a", "a"]),
        # a bot removed while waiting, or during its round, is not polled again
        ([("schedule", "a", 1.0), ("remove", "a"), ("next",), ("pop", 9.0)], [None, None]),
        (
            [
                ("schedule", "a", 0.0),
                ("pop", 0.0),
                ("remove", "a"),
                ("wake", "a", 0.5),
                ("done", "a", 1.0, 1.0),
                ("pop", 9.0),
            ],
            ["a", None],
        ),
        # added again after a removal during its round, it is polled again
        (
            [
                ("schedule", "a", 0.0),
                ("pop", 0.0),
                ("remove", "a"),
                ("schedule", "a", 0.0),
                ("done", "a", 1.0, 2.0),
                ("pop", 3.0),
            ],
            ["a", "a"],
        ),
        # a new due time replaces the old one; the stale entry is never handed out
        (
            [
                ("schedule", "a", 5.0),
                ("schedule", "a", 1.0),
                ("pop", 1.0),
                ("done", "a", 1.0, 100.0),
                ("pop", 5.0),
                ("next",),
            ],
            ["a", None, 101.0],
        ),
        # bots due at the same moment each get their turn
        (
            [
                ("schedule", "a", 1.0),
                ("schedule", "b", 1.0),
                ("schedule", "c", 1.0),
                ("pop", 1.0),
                ("pop", 1.0),
                ("pop", 1.0),
                ("pop", 1.0),
            ],
            ["a", "b", "c", None],
        ),
    ],
)
def test_the_due_queue_hands_out_each_bot_when_due_and_once_at_a_time(steps, answers) -> None:
    assert run(steps) == answers
