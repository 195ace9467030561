"""uvicorn's HTTP protocol with a deadline on reading a request's headers.

uvicorn bounds only the idle wait between two requests of a kept-alive connection
(``timeout_keep_alive``): a client that opens a connection and sends nothing, or sends a
request line and headers a byte at a time, holds the connection (and its place under
``limit_concurrency``) for as long as it likes. Here a timer starts when the connection
is made and when a request's first byte arrives, and stops when its headers are complete;
if it fires first the connection is closed. The body and the response are not timed here:
the reverse proxy buffers bodies and bounds their pace (see docs/deployment.md).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` that closes a connection whose request headers take too long."""

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def _header_timer_arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._header_timer_fired)

    def _header_timer_cancel(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timer_fired(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            log.debug("closing a connection whose request headers took over %g s", self.header_timeout)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer_arm()  # a connection that never sends a byte is timed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._header_timer_cancel()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        # Armed once per request: trickling bytes do not push the deadline back.
        self._header_timer_arm()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._header_timer_cancel()
        super().on_headers_complete()


def header_timeout_protocol(seconds: float) -> type[HeaderTimeoutProtocol]:
    """The protocol class to give ``uvicorn.Config(http=...)``, with its deadline set."""
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout": seconds})
