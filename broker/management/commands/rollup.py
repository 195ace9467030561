"""``manage.py rollup``: count the dashboard's hourly activity again from the rows."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from broker.activity import FIRST_HOURS, activity_rollup


class Command(BaseCommand):
    help = (
        "Count the last N whole hours of messages, replies and invocations again into the dashboard's "
        "hourly rollup (runbroker keeps it up to date by itself)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--hours", type=int, default=FIRST_HOURS, help="whole hours to count again (default %(default)s: a week)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        hours = max(options["hours"], 0)
        written = activity_rollup(hours=hours)
        self.stdout.write(f"Counted {hours} hour(s): {written} row(s) of activity.")
