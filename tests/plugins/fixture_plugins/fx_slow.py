"""Slow commands: they work for a while, tell the user how it goes, and may be async."""

import asyncio
import threading
import time

from plugins.api import Context, Plugin, Reply, command


class Slow(Plugin):
    def __init__(self) -> None:
        self.late: list[str] = []

    @command("slow", summary="Answers after a while")
    def slow(self, ctx: Context, seconds: float = 20.0) -> str:
        ctx.send("working")
        time.sleep(seconds)
        return f"done after {seconds:g} s"

    @command("steps", summary="Sends a message per step, then answers")
    def steps(self, ctx: Context, count: int = 3) -> Reply:
        for step in range(1, count + 1):
            ctx.send(f"step {step} of {count}")
        return Reply("all steps done")

    @command("asteps", summary="The same, written async")
    async def asteps(self, ctx: Context, count: int = 3) -> str:
        for step in range(1, count + 1):
            await asyncio.sleep(0.01)
            ctx.send(f"async step {step} of {count}")
        return "async done"

    @command("leave", summary="Leaves a thread that sends after the answer")
    def leave(self, ctx: Context) -> str:
        def later() -> None:
            time.sleep(0.3)
            try:
                ctx.send("too late")
                self.late.append("sent")
            except Exception as exc:
                self.late.append(type(exc).__name__)

        threading.Thread(target=later, daemon=True).start()
        return "left"

    @command("late", summary="What the thread left behind met")
    def late_result(self, ctx: Context) -> str:
        return ",".join(self.late)

    async def on_text(self, ctx: Context, text: str) -> str:
        await asyncio.sleep(0)
        return f"async text: {text}"
