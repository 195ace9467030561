"""``manage.py sessiontestnet --port PORT``: a local Session seed, swarm and file server."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sessiontestnet.server import SessionTestnet


class Command(BaseCommand):
    help = "Serve a local stand-in for the Session network on loopback (seed, storage, file server)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free port)")
        parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")

    def handle(self, *args: Any, **options: Any) -> None:
        server = SessionTestnet(host=options["host"], port=options["port"])
        self.stdout.write(f"Session test network listening on {server.url}")
        self.stdout.write(f"Use it with: SESSION_NETWORK_URL={server.url}")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
