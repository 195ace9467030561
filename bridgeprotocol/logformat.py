"""``LOG_FORMAT=json``: one JSON object per log line, for every process of the bot.

The broker, the workers and the bridge (which imports no Django) all format their lines
here. Each object has ``time`` (UTC, ISO 8601, milliseconds), ``level``, ``logger`` and
``message``, then, where the line is about one of them, ``bot``, ``message_hash``,
``invocation`` and ``ref``, given as ``extra=`` to the logging call (``log_fields``), and
``exception`` with a traceback. The text format stays the one it has always been.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")
FIELDS = ("bot", "message_hash", "invocation", "ref")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_fields(**fields: Any) -> dict[str, Any]:
    """The ``extra=`` of a logging call: the given ``FIELDS`` that have a value."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"not a log field: {', '.join(sorted(unknown))}")
    return {key: value for key, value in fields.items() if value not in (None, "")}


def log_time(created: float) -> str:
    return datetime.fromtimestamp(created, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def log_object(*, created: float, level: str, logger: str, message: str, **fields: Any) -> str:
    """One line of JSON; the fields without a value are left out."""
    entry: dict[str, Any] = {"time": log_time(created), "level": level, "logger": logger, "message": message}
    entry.update({key: value for key, value in fields.items() if value not in (None, "")})
    return json.dumps(entry, ensure_ascii=False, default=str)


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON (newlines inside it are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {key: getattr(record, key, None) for key in FIELDS}
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            fields["exception"] = record.exc_text
        if record.stack_info:
            fields["stack"] = self.formatStack(record.stack_info)
        return log_object(
            created=record.created, level=record.levelname, logger=record.name, message=record.getMessage(), **fields
        )


def formatter_config(log_format: str) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` formatter for ``log_format`` (``text`` or ``json``)."""
    if log_format == "json":
        return {"()": f"{__name__}.JsonFormatter"}
    return {"format": TEXT_FORMAT}


def console_line(text: str, *, log_format: str, logger: str) -> str:
    """A line a command prints for its operator (addresses, the Session ID): as it is in the
    text format, a JSON object like a log line's in the json format, so that every line of
    the output parses."""
    if log_format != "json":
        return text
    now = datetime.now(tz=UTC).timestamp()
    return log_object(created=now, level="INFO", logger=logger, message=text)
