"""``manage.py runbridge``: the bundled Session bridge (runbroker starts it as a subprocess)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import segno
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils.translation import gettext as _

from bots.services import FIRST_BOT, BotError, bot_identity_serve
from bridge.receiver import PollTiming
from bridge.runtime import Bridge, BridgeSettings


def broker_url_default() -> str:
    explicit = getattr(settings, "BROKER_URL", "") or os.environ.get("BROKER_URL", "")
    if explicit:
        return str(explicit)
    port = getattr(settings, "PORT", None) or os.environ.get("PORT", "8000")
    return f"ws://{settings.HOST_IP}:{port}/ws/bridge/"


def bridge_state_dir(name: str) -> Path:
    """Where a bot's bridge keeps its cursor and sent refs; the first bot keeps the folder of
    the bridge from before bots, so an upgraded install does not fetch its mailbox again."""
    if name == FIRST_BOT:
        return Path(settings.DATA_DIR) / "bridge-state"
    return Path(settings.DATA_DIR) / "bridge-state" / "bots" / name


class Command(BaseCommand):
    help = "Hold a bot's Session identity, poll the Session network and relay to the broker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--broker-url", default="", help="ws://HOST:PORT/ws/bridge/ (default from settings)")
        parser.add_argument("--no-qr", action="store_true", help="do not draw the Session ID as a QR code")
        parser.add_argument(
            "--bot", default=None, metavar="NAME", help="the bot to serve (default: the first enabled bot)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            bot = bot_identity_serve(name=options["bot"])
        except BotError as exc:
            raise CommandError(str(exc)) from None
        except DatabaseError as exc:
            raise CommandError(
                _("The bots are read from the database, which cannot be read (%(error)s): run manage.py migrate.")
                % {"error": exc}
            ) from None
        polling = bot.config.polling
        cfg = BridgeSettings(
            broker_url=options["broker_url"] or broker_url_default(),
            token=settings.BRIDGE_TOKEN,
            mnemonic=bot.words,
            state_dir=bridge_state_dir(bot.name),
            display_name=bot.display_name or settings.CLIENT_NAME,
            network_url=settings.SESSION_NETWORK_URL,
            timing=PollTiming(
                polling.active_interval_seconds, polling.idle_interval_seconds, polling.active_window_seconds
            ),
        )
        try:
            bridge = Bridge(cfg)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Bot Session ID: {bridge.bot_id}")
        if not options["no_qr"]:
            segno.make(bridge.bot_id, error="L").terminal(out=sys.stdout, compact=True)
        network = cfg.network_url or "the Session network"
        self.stdout.write(f"Bridge for the bot {bot.name!r} on {network}, broker {cfg.broker_url}")
        self.stdout.flush()
        asyncio.run(self._serve(bridge))

    async def _serve(self, bridge: Bridge) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, bridge.stop)
        await bridge.run()
