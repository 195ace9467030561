"""``manage.py otp_enroll USERNAME``: give an admin an authenticator app and backup codes."""

from __future__ import annotations

import io
import sys
from typing import Any

import segno
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from adminauth.twofactor import backup_codes_issue, totp_confirm, totp_enroll


class Command(BaseCommand):
    help = "Enroll an admin for two-factor login: print a QR code and otpauth:// URI, then backup codes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--no-input",
            action="store_true",
            help="confirm the device without asking for a code from the app (for scripts)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        try:
            user = user_model.objects.get(**{user_model.USERNAME_FIELD: options["username"]})
        except user_model.DoesNotExist:
            raise CommandError(_("No user named %(username)s.") % {"username": options["username"]}) from None
        device = totp_enroll(user=user)
        qr = io.StringIO()
        segno.make(device.config_url, error="L").terminal(out=qr, compact=True)
        self.stdout.write(_("Scan this with an authenticator app (or enter the URI in it):"))
        self.stdout.write(qr.getvalue())
        self.stdout.write(device.config_url)
        if not options["no_input"]:
            token = self._ask(_("Code the app shows now: "))
            if not totp_confirm(device=device, token=token):
                raise CommandError(_("That code is not valid; nothing was enrolled. Run the command again."))
        else:
            totp_confirm(device=device, token=None)
        codes = backup_codes_issue(user=user)
        self.stdout.write(_("Enrolled. Backup codes, each usable once (keep them offline):"))
        self.stdout.write("  " + "  ".join(codes))

    def _ask(self, prompt: str) -> str:
        self.stdout.write(prompt, ending="")
        self.stdout.flush()
        return sys.stdin.readline().strip()
