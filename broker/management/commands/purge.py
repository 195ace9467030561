"""``manage.py purge [--dry-run]``: erase the content past its retention period now."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from broker.retention import content_purge


class Command(BaseCommand):
    help = (
        "Erase the text, arguments, attachments and files older than retention.content_days in config.yaml "
        "(runbroker does it every retention.interval_seconds); the metadata the metrics need stays."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count what would be erased, erase nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        retention = settings.BOT_CONFIG.retention
        if retention.content_days is None:
            self.stdout.write(_("retention.content_days is null: content is kept for ever, nothing to erase."))
            return
        counts = content_purge(retention=retention, dry_run=options["dry_run"])
        values = {
            "days": retention.content_days,
            "messages": counts.messages,
            "invocations": counts.invocations,
            "replies": counts.replies,
            "files": counts.files,
        }
        days = retention.content_days
        if options["dry_run"]:
            line = ngettext(
                "Content older than %(days)s day that a purge would erase: messages %(messages)s, "
                "invocations %(invocations)s, replies %(replies)s, files %(files)s.",
                "Content older than %(days)s days that a purge would erase: messages %(messages)s, "
                "invocations %(invocations)s, replies %(replies)s, files %(files)s.",
                days,
            )
        else:
            line = ngettext(
                "Content older than %(days)s day erased: messages %(messages)s, invocations %(invocations)s, "
                "replies %(replies)s, files %(files)s.",
                "Content older than %(days)s days erased: messages %(messages)s, invocations %(invocations)s, "
                "replies %(replies)s, files %(files)s.",
                days,
            )
        self.stdout.write(line % values)
