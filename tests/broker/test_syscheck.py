"""With LOG_FORMAT=json, the system checks' findings are log lines and errors still stop the command."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from django.core import checks
from django.core.checks.registry import registry
from django.core.management.base import SystemCheckError

from broker.syscheck import system_checks_logged

found: list[checks.CheckMessage] = []


def _fixture_check(**_: object) -> list[checks.CheckMessage]:
    return list(found)


@pytest.fixture
def registered() -> Iterator[None]:
    checks.register(_fixture_check)
    try:
        yield
    finally:
        registry.registered_checks.discard(_fixture_check)
        found.clear()


def test_a_warning_is_a_log_line_and_the_command_goes_on(registered, caplog) -> None:
    found.append(checks.Warning("no password", id="tests.W001"))
    with caplog.at_level(logging.WARNING):
        system_checks_logged(log=logging.getLogger("tests.syscheck"))
    (record,) = [r for r in caplog.records if "tests.W001" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith("system check: ?: (tests.W001) no password")


def test_an_error_is_logged_and_stops_the_command(registered, caplog) -> None:
    found.append(checks.Error("broken", id="tests.E001"))
    with caplog.at_level(logging.WARNING), pytest.raises(SystemCheckError):
        system_checks_logged(log=logging.getLogger("tests.syscheck"))
    assert any(r.levelno == logging.ERROR and "tests.E001" in r.getMessage() for r in caplog.records)
