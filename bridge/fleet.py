"""Many bots' bridges in one process and one event loop, kept in step with a wanted set.

The caller says which bots it wants served now, with their settings, as often as it likes;
:func:`fleet_plan` decides what to start, stop and restart, and :class:`Fleet` does it. Each
bot keeps its own broker connection, state folder and cursor; they share one poll
scheduler, one sender pool and one HTTP connection pool, so that an idle bot costs a
mailbox poll now and then and little memory. One bridge failing, or losing its broker
connection, leaves the others as they are.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from bridge.network import NetworkLike, network_build
from bridge.polling import PollScheduler
from bridge.runtime import Bridge, BridgeSettings

log = logging.getLogger(__name__)

# Threads for every bot's poll rounds and sends. A round on the real network waits a few
# hundred milliseconds for a storage node; 200 bots polled every 5 s keep about ten busy.
POLL_WORKERS = 16
SEND_WORKERS = 8
STOP_TIMEOUT = 20.0

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class FleetPlan:
    start: tuple[str, ...] = ()
    stop: tuple[str, ...] = ()
    restart: tuple[str, ...] = ()  # running with settings that have changed since

    def __bool__(self) -> bool:
        return bool(self.start or self.stop or self.restart)


def fleet_plan(*, running: Mapping[str, S], wanted: Mapping[str, S], unreadable: Collection[str] = ()) -> FleetPlan:
    """What to do so that the bots ``running`` (name: settings) become those ``wanted``.

    A bot that could not be read this time (``unreadable``) is left as it is: a key or a
    setting that cannot be read stops nobody, and starts nobody.
    """
    keep = set(unreadable)
    return FleetPlan(
        start=tuple(sorted(set(wanted) - set(running) - keep)),
        stop=tuple(sorted(set(running) - set(wanted) - keep)),
        restart=tuple(sorted(n for n in set(wanted) & set(running) if wanted[n] != running[n] and n not in keep)),
    )


@dataclass(slots=True)
class _Running:
    settings: BridgeSettings
    bridge: Bridge
    task: asyncio.Task[None]


class Fleet:
    def __init__(self, *, poll_workers: int = POLL_WORKERS, send_workers: int = SEND_WORKERS) -> None:
        self._polls = PollScheduler(workers=poll_workers)
        self._sends = ThreadPoolExecutor(max_workers=send_workers, thread_name_prefix="session-sender")
        self._networks: dict[str, NetworkLike] = {}
        self._running: dict[str, _Running] = {}
        self._failed: dict[str, BridgeSettings] = {}  # could not start with these settings
        self._problems: dict[str, str] = {}

    def bridges(self) -> dict[str, Bridge]:
        """The bridges running now, by bot name."""
        return {name: run.bridge for name, run in self._running.items()}

    async def apply(self, wanted: Mapping[str, BridgeSettings], problems: Mapping[str, str] | None = None) -> FleetPlan:
        """Start, stop and restart bridges so that the bots ``wanted`` are served.

        ``problems`` names the bots that could not be read this time, with why; each is
        logged once, and such a bot keeps running (or not) as it was.
        """
        problems = problems or {}
        for name, why in problems.items():
            if self._problems.get(name) != why:
                log.error("bot %s cannot be served: %s", name, why)
        self._problems = dict(problems)
        current = {**self._failed, **{name: run.settings for name, run in self._running.items()}}
        plan = fleet_plan(running=current, wanted=wanted, unreadable=problems.keys())
        await asyncio.gather(*(self._stop(name) for name in plan.stop + plan.restart))
        for name in plan.start + plan.restart:
            self._start(name, wanted[name])
        return plan

    async def close(self) -> None:
        await asyncio.gather(*(self._stop(name) for name in list(self._running)))
        self._polls.close()
        self._sends.shutdown(wait=False, cancel_futures=True)

    def _network(self, url: str) -> NetworkLike:
        # One HTTP session for every bot: its connections (and their TLS state) are reused
        # across bots instead of each bot keeping its own.
        if url not in self._networks:
            self._networks[url] = network_build(url)
        return self._networks[url]

    def _start(self, name: str, cfg: BridgeSettings) -> None:
        self._failed.pop(name, None)
        try:
            bridge = Bridge(
                cfg,
                network=self._network(cfg.network_url),
                polls=self._polls,
                sends=self._sends,
                poll_spread=cfg.timing.idle_seconds,
            )
        except (ValueError, OSError) as exc:  # tried again once its settings change
            log.error("bot %s cannot be served: %s", name, exc)
            self._failed[name] = cfg
            return
        task = asyncio.create_task(self._run(name, bridge), name=f"bridge-{name}")
        self._running[name] = _Running(cfg, bridge, task)

    async def _run(self, name: str, bridge: Bridge) -> None:
        try:
            await bridge.run()
        except Exception:
            log.exception("bot %s: its bridge failed; it starts again at the next look at the bots", name)
        finally:
            run = self._running.get(name)
            if run is not None and run.bridge is bridge:
                del self._running[name]

    async def _stop(self, name: str) -> None:
        run = self._running.pop(name, None)
        if run is None:
            self._failed.pop(name, None)
            return
        run.bridge.stop()
        try:
            await asyncio.wait_for(asyncio.shield(run.task), STOP_TIMEOUT)
        except TimeoutError:
            log.warning("bot %s: its bridge did not stop within %.0f s; cancelled", name, STOP_TIMEOUT)
            run.task.cancel()
            await asyncio.gather(run.task, return_exceptions=True)
