"""``manage.py bots``: list, add, enable, disable, remove or purge bots; export or re-encrypt identities."""

from __future__ import annotations

import getpass
import sys
from argparse import ArgumentParser
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from bots.models import Bot
from bots.services import (
    BotError,
    Purge,
    bot_add,
    bot_disable,
    bot_enable,
    bot_key_export,
    bot_keys_rekey,
    bot_purge,
    bot_purge_preview,
    bot_purge_target,
    bot_remove,
)


class Command(BaseCommand):
    help = "Operate bots: list, add, enable, disable or remove them, and export a bot's identity."
    stealth_options = ("stdin",)  # where --mnemonic-stdin and the confirmation read from (tests pass their own)

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="the bots with their Session IDs and whether they are enabled")
        listing.add_argument("--all", action="store_true", help="the removed bots too")
        add = sub.add_parser("add", help="add a bot with a new identity, or with one read from stdin")
        add.add_argument("name", help="a short name: letters, digits, - and _")
        add.add_argument("--display-name", default="", help="the name Session users see")
        add.add_argument(
            "--mnemonic-stdin", action="store_true", help="read the 13 words of an existing identity from stdin"
        )
        for action in ("enable", "disable"):
            sub.add_parser(action, help=f"{action} a bot").add_argument("name")
        remove = sub.add_parser("remove", help="remove a bot and its stored identity; its history stays")
        remove.add_argument("name", help="the bot; with --purge, a removed bot's name or Session ID too")
        remove.add_argument(
            "--purge", action="store_true", help="delete its history too: messages, users, invocations, sends"
        )
        remove.add_argument("--yes", action="store_true", help="purge without asking for confirmation")
        sub.add_parser("export-key", help="print a bot's 13 words, for a backup").add_argument("name")
        sub.add_parser("rekey", help="encrypt every bot's identity again under the first PLUGIN_SECRETS_KEY")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._do(options)
        except BotError as exc:
            raise CommandError(str(exc)) from None

    def _do(self, options: dict[str, Any]) -> None:
        action = options["action"]
        if action == "list":
            self._list(removed_too=options["all"])
        elif action == "add":
            words = None
            if options["mnemonic_stdin"]:
                words = mnemonic_read(stream=options.get("stdin") or sys.stdin)
                if not words.strip():
                    raise CommandError(_("No mnemonic given on stdin; no bot added."))
            bot = bot_add(name=options["name"], words=words, display_name=options["display_name"])
            self.stdout.write(
                self.style.SUCCESS(
                    _("Bot %(name)s added: Session ID %(session_id)s")
                    % {"name": bot.name, "session_id": bot.session_id}
                )
            )
            if words is None:
                self.stdout.write(
                    _("Its identity is new: back it up with manage.py bots export-key %(name)s.") % {"name": bot.name}
                )
        elif action == "enable":
            bot_enable(name=options["name"])
            self.stdout.write(self.style.SUCCESS(_("Bot %(name)s enabled.") % {"name": options["name"]}))
        elif action == "disable":
            bot_disable(name=options["name"])
            self.stdout.write(
                self.style.SUCCESS(
                    _("Bot %(name)s disabled: a bridge no longer starts for it.") % {"name": options["name"]}
                )
            )
        elif action == "remove":
            if options["purge"]:
                self._purge(options)
                return
            bot = bot_remove(name=options["name"])
            self.stdout.write(
                self.style.SUCCESS(
                    _(
                        "Bot %(name)s removed; its history stays (bots remove %(name)s --purge deletes it). "
                        "Its identity %(session_id)s is gone unless you exported it (bots export-key) "
                        "or kept a database backup."
                    )
                    % {"name": bot.name, "session_id": bot.session_id}
                )
            )
        elif action == "rekey":
            count = bot_keys_rekey()
            self.stdout.write(
                self.style.SUCCESS(
                    ngettext(
                        "%(count)d bot identity encrypted under the first key.",
                        "%(count)d bot identities encrypted under the first key.",
                        count,
                    )
                    % {"count": count}
                )
            )
        elif action == "export-key":
            words = bot_key_export(name=options["name"])
            self.stderr.write(
                _(
                    "Warning: these 13 words ARE the bot %(name)s. Anyone who has them can read its messages "
                    "and speak as it. Keep them offline; never paste them into a chat or a ticket."
                )
                % {"name": options["name"]}
            )
            self.stdout.write(words)

    def _purge(self, options: dict[str, Any]) -> None:
        bot = bot_purge_target(name=options["name"])
        if not options["yes"]:
            preview = bot_purge_preview(pks=[bot.pk])
            self.stdout.write(
                _("Purging the bot %(name)s (%(session_id)s) deletes for good: %(rows)s.")
                % {"name": bot.name, "session_id": bot.session_id, "rows": _rows_text(preview)}
            )
            stream = options.get("stdin") or sys.stdin
            if not stream.isatty() and options.get("stdin") is None:
                raise CommandError(_("Not purged: confirm on a terminal, or pass --yes."))
            self.stdout.write(_("Type the bot's name to confirm: "), ending="")
            self.stdout.flush()
            if stream.readline().strip() != bot.name:
                raise CommandError(_("Not purged."))
        done = bot_purge(name=options["name"])
        self.stdout.write(
            self.style.SUCCESS(
                ngettext(
                    "Bot %(name)s purged: %(count)d row deleted (%(rows)s).",
                    "Bot %(name)s purged: %(count)d rows deleted (%(rows)s).",
                    done.total,
                )
                % {"name": bot.name, "count": done.total, "rows": _rows_text(done)}
            )
        )

    def _list(self, *, removed_too: bool) -> None:
        bots = list(Bot.objects.order_by("name", "removed_at"))
        if not removed_too:
            bots = [bot for bot in bots if bot.removed_at is None]
        if not bots:
            self.stdout.write(_("No bots yet: the bridge makes the first from today's identity when it starts."))
            return
        width = max(len(bot.name) for bot in bots)
        for bot in bots:
            state = _("enabled") if bot.enabled else _("disabled")
            if bot.removed_at is not None:
                state = _("removed %(date)s") % {"date": bot.removed_at.date().isoformat()}
            self.stdout.write(f"{bot.name:<{width}}  {bot.session_id}  {state:<8}  {bot.display_name}".rstrip())


def _rows_text(purge: Purge) -> str:
    return ", ".join(f"{count} {label}" for label, count in purge.rows.items()) or "-"


def mnemonic_read(*, stream: IO[str]) -> str:
    """The words: typed without echo on a terminal, else everything piped in."""
    if stream.isatty():
        return getpass.getpass(_("Mnemonic (13 words): "))
    return stream.read()
