"""Django's system checks for ``runbroker`` and ``runbridge`` with ``LOG_FORMAT=json``.

A management command prints the checks' findings as a block of text to standard error,
which would be the one part of the output a log collector cannot parse: here each
finding is a log line instead, and an error still stops the command.
"""

from __future__ import annotations

import logging

from django.core import checks
from django.core.management.base import SystemCheckError


def system_checks_logged(*, log: logging.Logger) -> None:
    """Run the checks; log each finding (errors at ERROR, the rest at WARNING); raise on errors."""
    found = [message for message in checks.run_checks() if not message.is_silenced()]
    for message in found:
        log.log(logging.ERROR if message.is_serious() else logging.WARNING, "system check: %s", message)
    if any(message.is_serious() for message in found):
        raise SystemCheckError("the system checks found errors (logged above)")
