"""``manage.py chat [BOT_SESSION_ID | BOT_NAME]``: talk to a bot from the terminal as a Session user."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bots.models import Bot
from bridge.account import SESSION_ID_RE, SessionAccount
from bridge.identity import IdentityError, mnemonic_load
from bridge.network import network_build
from broker.chatclient import ChatReceiver, chat_run
from broker.models import BridgeStatus


class Command(BaseCommand):
    help = "Chat with the bot as a Session user; '/file PATH' sends a file, '/quit' ends."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "bot_id",
            nargs="?",
            default="",
            help="the bot's Session ID or name (default: the bot whose bridge was seen last)",
        )
        parser.add_argument("--name", default="chat", help="your display name")
        parser.add_argument(
            "--linger", type=float, default=0.0, help="seconds to keep printing replies after input ends"
        )

    def _bot_id(self, given: str) -> str:
        if given:
            if SESSION_ID_RE.match(given):
                return given
            named = Bot.objects.filter(name=given).values_list("session_id", flat=True).first()
            if named is None:
                raise CommandError(
                    f"{given!r} is neither a Session ID (66 hex characters starting 05) nor a bot's name"
                )
            return named
        latest = BridgeStatus.objects.order_by("-last_seen").first()
        if latest is None:
            raise CommandError("No bot has connected yet: start it (make run) or pass its Session ID")
        return latest.bot_id

    def handle(self, *args: Any, **options: Any) -> None:
        bot_id = self._bot_id(options["bot_id"])
        try:
            words = mnemonic_load(
                env_value=os.environ.get("CHAT_MNEMONIC", ""), path=settings.DATA_DIR / "chat_mnemonic"
            )
            accounts = [
                SessionAccount(
                    mnemonic=words, network=network_build(settings.SESSION_NETWORK_URL), display_name=options["name"]
                )
                for _ in range(2)
            ]
        except (IdentityError, ValueError) as exc:
            raise CommandError(str(exc)) from None

        def out(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        out(f"You are {accounts[0].session_id}; talking to {bot_id}. '/file PATH' sends a file, '/quit' ends.")
        receiver = ChatReceiver(
            account=accounts[1], bot_id=bot_id, downloads=settings.DATA_DIR / "chat-downloads", out=out
        )
        try:
            chat_run(sender=accounts[0], receiver=receiver, lines=sys.stdin, out=out, linger=options["linger"])
        except KeyboardInterrupt:
            out("")
