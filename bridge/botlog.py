"""Log lines that name their bot: one process serves many, and a line must say whose it is."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any


class BotLog(logging.LoggerAdapter[logging.Logger]):
    """Prefix each message with ``bot NAME:`` (no prefix for an unnamed bot), and give the
    record a ``bot`` field for the json log format."""

    def __init__(self, logger: logging.Logger, bot: str) -> None:
        super().__init__(logger, {"bot": bot})
        self.prefix = f"bot {bot}: " if bot else ""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        if self.prefix:
            kwargs["extra"] = {"bot": self.extra["bot"] if self.extra else "", **(kwargs.get("extra") or {})}
        return f"{self.prefix}{msg}", kwargs
