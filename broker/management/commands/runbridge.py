"""``manage.py runbridge``: the bundled Session bridge (runbroker starts it as a subprocess)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import segno
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bridge.identity import IdentityError, mnemonic_load
from bridge.receiver import PollTiming
from bridge.runtime import Bridge, BridgeSettings


def broker_url_default() -> str:
    explicit = getattr(settings, "BROKER_URL", "") or os.environ.get("BROKER_URL", "")
    if explicit:
        return str(explicit)
    port = getattr(settings, "PORT", None) or os.environ.get("PORT", "8000")
    return f"ws://{settings.HOST_IP}:{port}/ws/bridge/"


class Command(BaseCommand):
    help = "Hold the bot's Session identity, poll the Session network and relay to the broker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--broker-url", default="", help="ws://HOST:PORT/ws/bridge/ (default from settings)")
        parser.add_argument("--no-qr", action="store_true", help="do not draw the Session ID as a QR code")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            mnemonic = mnemonic_load(env_value=settings.SESSION_MNEMONIC, path=settings.DATA_DIR / "session_mnemonic")
        except IdentityError as exc:
            raise CommandError(str(exc)) from None
        polling = settings.BOT_CONFIG.polling
        cfg = BridgeSettings(
            broker_url=options["broker_url"] or broker_url_default(),
            token=settings.BRIDGE_TOKEN,
            mnemonic=mnemonic,
            state_dir=settings.DATA_DIR / "bridge-state",
            display_name=settings.CLIENT_NAME,
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
        self.stdout.write(f"Bridge for {settings.CLIENT_NAME!r} on {network}, broker {cfg.broker_url}")
        self.stdout.flush()
        asyncio.run(self._serve(bridge))

    async def _serve(self, bridge: Bridge) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, bridge.stop)
        await bridge.run()
