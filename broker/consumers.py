"""The bridge endpoint (placeholder until the broker issue lands: refuses every connection)."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer


class BridgeConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        await self.close(code=4401)
