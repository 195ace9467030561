"""``manage.py botstatus``: the bot's health on one screen, or as JSON; a monitoring check."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from broker.status import status_collect
from broker.statusrules import DEFAULT_MAX_DOWN_SECONDS, DEFAULT_MAX_FAILED_SENDS, Thresholds
from broker.statustext import status_json, status_text


class Command(BaseCommand):
    help = (
        "Show the bridge, the outbox, recent invocations and each plugin's health. "
        "Exits 1 when the bridge is disconnected too long or sends failed, so it works as a monitoring check."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print a JSON document for scripts.")
        parser.add_argument(
            "--window", type=float, default=60.0, help="Minutes of history for counts and error rates (default 60)."
        )
        parser.add_argument(
            "--max-down",
            type=float,
            default=DEFAULT_MAX_DOWN_SECONDS,
            help="Seconds the bridge may be disconnected before the bot counts as unhealthy (default 60).",
        )
        parser.add_argument(
            "--max-failed",
            type=int,
            default=DEFAULT_MAX_FAILED_SENDS,
            help="Failed sends within the window tolerated before the bot counts as unhealthy (default 0).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = status_collect(
            window=timedelta(minutes=options["window"]),
            thresholds=Thresholds(max_down_seconds=options["max_down"], max_failed_sends=options["max_failed"]),
        )
        if options["json"]:
            self.stdout.write(json.dumps(status_json(report), indent=2))
        else:
            self.stdout.write(status_text(report), ending="")
        if not report.healthy:
            sys.exit(1)
