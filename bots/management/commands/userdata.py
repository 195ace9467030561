"""``manage.py userdata export|erase SESSION_ID [--bot NAME]``: a chat user's data (docs/privacy.md)."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from bots.userdata import UserDataError, userdata_erase_all, userdata_export_all


class Command(BaseCommand):
    help = (
        "Export (as JSON) or erase what the bots keep about a chat user: messages, invocations, replies, "
        "language, grants, groups and files. Without --bot, every bot of the deployment."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for action, text in (
            ("export", "print the user's data as JSON"),
            ("erase", "erase the user's data, as /forgetme does"),
        ):
            one = sub.add_parser(action, help=text)
            one.add_argument("session_id", metavar="SESSION_ID", help="the user's Session ID (66 hex characters)")
            one.add_argument("--bot", metavar="NAME", help="only this bot (default: every bot, removed ones too)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "export":
                found = userdata_export_all(session_id=options["session_id"], bot_name=options["bot"])
                self.stdout.write(json.dumps(found, ensure_ascii=False, indent=2))
                return
            erased = userdata_erase_all(session_id=options["session_id"], bot_name=options["bot"])
        except UserDataError as exc:
            raise CommandError(str(exc)) from None
        for bot, counts in erased.items():
            shown = ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items())) or "-"
            self.stdout.write(_("%(bot)s: erased %(counts)s") % {"bot": bot, "counts": shown})
