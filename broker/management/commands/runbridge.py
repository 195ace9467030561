"""``manage.py runbridge``: the bundled Session bridge for every enabled bot (runbroker starts it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import segno
from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError, close_old_connections
from django.utils.translation import gettext as _

from bots.services import FIRST_BOT, BotError, BotIdentity, BotsServed, bots_serve, bots_serve_check
from bridge.fleet import Fleet
from bridge.receiver import PollTiming
from bridge.runtime import BridgeSettings
from broker.syscheck import OperatorCommand

log = logging.getLogger(__name__)

# How often the bots are read again: enabling, adding, disabling or changing a bot takes
# effect within this many seconds (plus a bridge's start).
BOTS_REREAD_SECONDS = 3.0


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


def bridge_settings(bot: BotIdentity, *, broker_url: str) -> BridgeSettings:
    polling = bot.config.polling
    return BridgeSettings(
        broker_url=broker_url,
        token=settings.BRIDGE_TOKEN,
        mnemonic=bot.words,
        state_dir=bridge_state_dir(bot.name),
        display_name=bot.display_name or settings.CLIENT_NAME,
        network_url=settings.SESSION_NETWORK_URL,
        timing=PollTiming(
            polling.active_interval_seconds, polling.idle_interval_seconds, polling.active_window_seconds
        ),
        name=bot.name,
    )


class Command(OperatorCommand):
    logger = log

    help = "Hold the enabled bots' Session identities, poll the Session network and relay to the broker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--broker-url", default="", help="ws://HOST:PORT/ws/bridge/ (default from settings)")
        parser.add_argument("--no-qr", action="store_true", help="do not draw the Session ID as a QR code")
        parser.add_argument(
            "--bot",
            action="append",
            default=[],
            metavar="NAME",
            help="a bot to serve; repeat for more (default: every enabled bot)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        names: list[str] = options["bot"]
        try:
            bots_serve_check(names=names)
        except BotError as exc:
            raise CommandError(str(exc)) from None
        except DatabaseError as exc:
            raise CommandError(
                _("The bots are read from the database, which cannot be read (%(error)s): run manage.py migrate.")
                % {"error": exc}
            ) from None
        self.names = names
        self.broker_url = options["broker_url"] or broker_url_default()
        self.qr = not options["no_qr"]
        self.known: dict[str, BotIdentity] = {}
        self.settings_of: dict[str, tuple[BotIdentity, BridgeSettings]] = {}
        network = settings.SESSION_NETWORK_URL or "the Session network"
        which = ", ".join(names) if names else "every enabled bot"
        self.say(f"Bridge for {which} on {network}, broker {self.broker_url}")
        self.stdout.flush()
        asyncio.run(self._serve())

    def _settings(self, bots: tuple[BotIdentity, ...]) -> dict[str, BridgeSettings]:
        """The bridge settings of ``bots``; the same objects for the bots unchanged since the last read."""
        known = self.settings_of
        self.settings_of = {
            bot.name: known[bot.name]
            if bot.name in known and known[bot.name][0] is bot
            else (bot, bridge_settings(bot, broker_url=self.broker_url))
            for bot in bots
        }
        return {name: cfg for name, (_, cfg) in self.settings_of.items()}

    def _read(self) -> BotsServed:
        """Read the bots (on a worker thread: the event loop must not wait on the database)."""
        try:
            return bots_serve(names=self.names, known=self.known)
        finally:
            close_old_connections()

    async def _serve(self) -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        fleet = Fleet()
        first = True
        try:
            while not stopping.is_set():
                try:
                    served = await asyncio.to_thread(self._read)
                except DatabaseError as exc:  # the bots served go on; read again next time
                    log.warning("the bots cannot be read from the database (%s); trying again", exc)
                else:
                    wanted = self._settings(served.identities)
                    self.known = {bot.name: bot for bot in served.identities}
                    plan = await fleet.apply(wanted, served.problems)
                    self._report(fleet, plan.start + plan.restart, plan.stop, qr=first)
                    first = False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), BOTS_REREAD_SECONDS)
        finally:
            await fleet.close()

    def _report(self, fleet: Fleet, started: tuple[str, ...], stopped: tuple[str, ...], *, qr: bool) -> None:
        bridges = fleet.bridges()
        for name in stopped:
            if name not in bridges:
                self.say(f"Stopped serving the bot {name!r}")
        for name in started:
            if name in bridges:
                self.say(f"Bot Session ID: {bridges[name].bot_id} (serving the bot {name!r})")
        if qr and self.qr and len(bridges) == 1 and settings.LOG_FORMAT != "json":
            segno.make(next(iter(bridges.values())).bot_id, error="L").terminal(out=sys.stdout, compact=True)
        self.stdout.flush()
