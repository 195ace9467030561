"""``LOG_FORMAT``: the JSON formatter shared by the broker, the workers and the bridge."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bridge.botlog import BotLog
from bridgeprotocol.logformat import JsonFormatter, console_line, formatter_config, log_fields
from sessionbot.envcheck import EnvError, log_format_check


def logged(fmt: str, emit) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(formatter_config(fmt)["format"]))
    logger = logging.getLogger("tests.logformat")
    logger.handlers, logger.propagate, logger.level, logger.disabled = [handler], False, logging.DEBUG, False
    emit(logger)
    return stream.getvalue()


def test_a_json_line_has_time_level_logger_message_and_the_fields_given() -> None:
    out = logged("json", lambda log: log.warning("send %s failed", "r-1", extra=log_fields(ref="r-1", invocation=7)))
    entry = json.loads(out)
    assert entry.pop("time").endswith("Z")
    assert entry == {
        "level": "WARNING",
        "logger": "tests.logformat",
        "message": "send r-1 failed",
        "invocation": 7,
        "ref": "r-1",
    }


def test_a_traceback_and_newlines_stay_inside_one_line() -> None:
    def emit(log: logging.Logger) -> None:
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("two\nlines")

    out = logged("json", emit)
    assert out.count("\n") == 1
    entry = json.loads(out)
    assert entry["message"] == "two\nlines"
    assert "ValueError: boom" in entry["exception"]


def test_the_bridges_bot_log_names_its_bot_in_a_field_and_in_the_text() -> None:
    out = logged("json", lambda log: BotLog(log, "family").info("hello", extra=log_fields(ref="x")))
    entry = json.loads(out)
    assert (entry["message"], entry["bot"], entry["ref"]) == ("bot family: hello", "family", "x")
    assert "bot" not in json.loads(logged("json", lambda log: BotLog(log, "").info("hello")))


def test_the_text_format_is_unchanged() -> None:
    out = logged("text", lambda log: log.info("hi", extra=log_fields(bot="main")))
    assert out.endswith(" INFO tests.logformat: hi\n")
    assert formatter_config("text") == {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}


def test_only_the_known_fields_are_accepted_and_empty_ones_are_left_out() -> None:
    assert log_fields(bot="main", ref="", invocation=None) == {"bot": "main"}
    with pytest.raises(TypeError, match="not a log field: text"):
        log_fields(text="a user's words")


def test_a_commands_console_line_is_a_json_object_in_the_json_format() -> None:
    assert console_line("Admin: http://x/", log_format="text", logger="l") == "Admin: http://x/"
    entry = json.loads(console_line("Admin: http://x/", log_format="json", logger="broker.runbroker"))
    assert (entry["level"], entry["logger"], entry["message"]) == ("INFO", "broker.runbroker", "Admin: http://x/")


@pytest.mark.parametrize(("raw", "value"), [("", "text"), ("text", "text"), ("JSON", "json"), (" json ", "json")])
def test_log_format_is_text_or_json(raw, value) -> None:
    assert log_format_check(raw) == value


def test_another_log_format_stops_the_start_naming_the_setting() -> None:
    with pytest.raises(EnvError, match="LOG_FORMAT: 'logfmt' is not text or json"):
        log_format_check("logfmt")
