"""Django's system checks for ``runbroker`` and ``runbridge`` with ``LOG_FORMAT=json``.

A management command prints the checks' findings as a block of text to standard error,
which would be the one part of the output a log collector cannot parse: here each
finding is a log line instead, and an error still stops the command.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.management.base import BaseCommand, SystemCheckError

from bridgeprotocol.logformat import console_line


def system_checks_logged(*, log: logging.Logger) -> None:
    """Run the checks; log each finding (errors at ERROR, the rest at WARNING); raise on errors."""
    found = [message for message in checks.run_checks() if not message.is_silenced()]
    for message in found:
        log.log(logging.ERROR if message.is_serious() else logging.WARNING, "system check: %s", message)
    if any(message.is_serious() for message in found):
        raise SystemCheckError("the system checks found errors (logged above)")


class OperatorCommand(BaseCommand):
    """A long-running command whose output an operator or a log collector reads: with
    ``LOG_FORMAT=json`` its checks' findings and its own lines are JSON objects too."""

    logger: logging.Logger  # the command's own logger, named in its JSON lines

    def check(self, *args: Any, **kwargs: Any) -> None:
        if settings.LOG_FORMAT == "json":
            system_checks_logged(log=self.logger)
        else:
            super().check(*args, **kwargs)

    def say(self, text: str) -> None:
        """Print ``text`` for the operator (a JSON object with LOG_FORMAT=json)."""
        self.stdout.write(console_line(text, log_format=settings.LOG_FORMAT, logger=self.logger.name))
