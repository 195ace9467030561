"""A small real broker-side protocol peer (websockets server) for testing the bridge alone.

It speaks the broker's half of ``docs/bridge-protocol.md``: checks the bearer token,
answers ``hello`` with ``welcome`` and the pending sends (or, told to, refuses it as a second
bridge of the bot: ``error`` ``bridge_conflict`` and close 4409), acks messages (or holds the acks),
and keeps sends pending until ``sent`` or ``failed`` with ``retry`` false.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from bridgeprotocol.frames import (
    BRIDGE_CONFLICT,
    CLOSE_BRIDGE_CONFLICT,
    Ack,
    Error,
    Failed,
    Hello,
    Message,
    Send,
    Sent,
    Status,
    Welcome,
    parse_frame,
)


class ProtocolPeer:
    def __init__(self, *, token: str, auto_ack: bool = True) -> None:
        self.token = token
        self.auto_ack = auto_ack
        self.hellos: list[Hello] = []
        self.messages: list[Message] = []
        self.accepted: dict[str, Message] = {}
        self.sent: list[Sent] = []
        self.failed: list[Failed] = []
        self.statuses: list[Status] = []
        self.pending: dict[str, Send] = {}
        self.refused = 0
        self.conflicts = 0  # hellos still to refuse as a second bridge's
        self.conn: ServerConnection | None = None
        self.server: Server | None = None
        self.changed = asyncio.Event()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = next(iter(self.server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/ws/bridge/"

    async def start(self) -> ProtocolPeer:
        self.server = await serve(self._handle, "127.0.0.1", 0, process_request=self._auth, max_size=2**24)
        return self

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    def _auth(self, conn: ServerConnection, request: Request) -> Response | None:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
            self.refused += 1
            return conn.respond(HTTPStatus.FORBIDDEN, "bad token\n")
        return None

    async def _handle(self, conn: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self._converse(conn)

    async def _converse(self, conn: ServerConnection) -> None:
        async for raw in conn:
            frame = parse_frame(raw)
            if isinstance(frame, Hello):
                self.hellos.append(frame)
                self.changed.set()
                if self.conflicts:
                    self.conflicts -= 1
                    await conn.send(Error(code=BRIDGE_CONFLICT, detail="another bridge of this bot").to_json())
                    await conn.close(CLOSE_BRIDGE_CONFLICT, "another bridge of this bot is connected")
                    return
                self.conn = conn
                await conn.send(Welcome().to_json())
                for send in list(self.pending.values()):
                    await conn.send(send.to_json())
            elif isinstance(frame, Message):
                self.messages.append(frame)
                if self.auto_ack:
                    await self.ack(frame.id)
            elif isinstance(frame, Sent):
                self.sent.append(frame)
                self.pending.pop(frame.ref, None)
            elif isinstance(frame, Failed):
                self.failed.append(frame)
                if not frame.retry:
                    self.pending.pop(frame.ref, None)
            elif isinstance(frame, Status):
                self.statuses.append(frame)
            self.changed.set()

    async def ack(self, msg_id: str, status: str = "accepted") -> None:
        duplicate = msg_id in self.accepted
        if not duplicate:
            self.accepted[msg_id] = next(m for m in self.messages if m.id == msg_id)
        assert self.conn is not None
        await self.conn.send(Ack(id=msg_id, status="duplicate" if duplicate else status).to_json())

    async def error(self, msg_id: str, code: str = "internal") -> None:
        """Answer a message as a broker that could not store it does."""
        assert self.conn is not None
        await self.conn.send(Error(code=code, detail="could not store it; send it again later", id=msg_id).to_json())

    async def send(self, **fields: Any) -> None:
        frame = Send.model_validate(fields)
        self.pending[frame.ref] = frame
        if self.conn is not None:
            await self.conn.send(frame.to_json())

    async def drop(self) -> None:
        """Cut the bridge's connection, as a broker restart would."""
        if self.conn is not None:
            await self.conn.close()
            self.conn = None

    async def wait(self, predicate: Any, timeout: float = 30.0) -> bool:
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return False
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.2))
        return True


def frame_json(frame: Any) -> dict[str, Any]:
    return dict(json.loads(frame.to_json()))
