"""``manage.py importplugins data/plugins.yaml``: thin adapter over :func:`plugins_import`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from plugins.importer import ImportReport, plugins_import
from plugins.manifest import ManifestError


class Command(BaseCommand):
    help = "Validate a plugins.yaml file and create or update its plugins, all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="the plugins file, e.g. data/plugins.yaml")
        parser.add_argument("--dry-run", action="store_true", help="validate and report, change nothing")

    def handle(self, *args: Any, path: Path, dry_run: bool, **options: Any) -> None:
        try:
            report = plugins_import(path=path, dry_run=dry_run)
        except ManifestError as exc:
            # One line naming file, entry, field and reason; nothing was changed.
            raise CommandError(f"{exc} (nothing imported)", returncode=1) from None
        self._print(report)
        if report.errors:
            # Each entry left out on a line of its own; exit 1 so that `make run` stops.
            imported = report.created or report.updated or report.unchanged
            tail = "(the other entries were imported)" if imported else "(nothing imported)"
            lines = "\n".join(report.errors)
            raise CommandError(f"{lines} {tail}", returncode=1)

    def _print(self, report: ImportReport) -> None:
        if report.dry_run:
            self.stdout.write("dry run: nothing was changed; an import would do this:")
        for label, names in (
            ("created", report.created),
            ("updated", report.updated),
            ("unchanged", report.unchanged),
            ("activated", report.activated),
        ):
            if names:
                self.stdout.write(f"{label}: {', '.join(names)}")
        for notice in report.notices:
            self.stderr.write(f"notice: {notice}")
        for warning in report.warnings:
            self.stderr.write(self.style.WARNING(f"warning: {warning}"))
        counts = f"{len(report.created)} created, {len(report.updated)} updated, {len(report.unchanged)} unchanged"
        self.stdout.write(self.style.SUCCESS(f"plugins: {counts}"))
