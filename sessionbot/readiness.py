"""``/livez`` and ``/readyz``: whether the process answers, and whether the bot can work.

``/livez`` checks nothing but that this process serves requests. ``/readyz`` runs every
registered check (the database and the channel layer here; apps add theirs from their
``AppConfig.ready`` with ``readiness_check_register``, so this module imports no app) and
answers JSON, 200 when all passed and 503 otherwise. The rules live in
``sessionbot.readyrules``. Both are open to anyone, like ``/healthz``: they say which check
failed in a few words, nothing more.
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync, iscoroutinefunction, markcoroutinefunction, sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from sessionbot.readyrules import Check, failure_check, readiness_verdict

SyncCheck = Callable[[], Check]
LAYER_TIMEOUT = 3.0  # seconds for a message to come back through the channel layer

_checks: dict[str, SyncCheck] = {}
# One probe channel per event loop (a Redis pub/sub layer subscribes per loop), made once and
# reused: a new channel per probe would stay subscribed. Forgotten with its loop.
_probes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[asyncio.Lock, list[str]]] = (
    weakref.WeakKeyDictionary()
)


def readiness_check_register(name: str, check: SyncCheck) -> None:
    """Run ``check`` (synchronous, with database access) on every ``/readyz``; a name registered again replaces it."""
    _checks[name] = check


def database_check() -> Check:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return Check("database", True, connection.vendor)


async def channel_layer_check() -> Check:
    """A message sent to a channel of this process comes back through the layer (Redis or in memory)."""
    layer = get_channel_layer()
    if layer is None:
        return Check("channel_layer", False, "not configured")
    lock, channels = _probes.setdefault(asyncio.get_running_loop(), (asyncio.Lock(), []))
    async with lock:
        if not channels:
            channels.append(await layer.new_channel("readyz."))
        channel, nonce = channels[0], uuid.uuid4().hex
        await layer.send(channel, {"type": "readyz.probe", "nonce": nonce})
        async with asyncio.timeout(LAYER_TIMEOUT):
            while (await layer.receive(channel)).get("nonce") != nonce:
                pass  # a probe that timed out earlier: its message came late
    return Check("channel_layer", True, type(layer).__name__)


def _sync_checks() -> list[Check]:
    found = []
    for name, check in [("database", database_check), *sorted(_checks.items())]:
        try:
            found.append(check())
        except Exception as exc:  # noqa: BLE001 - a check that fails is the answer, not a server error
            found.append(failure_check(name, exc))
    return found


async def readiness_run() -> list[Check]:
    """Every check's result: the database first, the channel layer, then the apps' in name order."""
    checks = await sync_to_async(_sync_checks)()
    try:
        layer = await channel_layer_check()
    except Exception as exc:  # noqa: BLE001 - Redis down is an answer too
        layer = failure_check("channel_layer", exc)
    return [checks[0], layer, *checks[1:]]


def livez(request: HttpRequest) -> JsonResponse:
    """Answer 200 while the process serves requests; nothing else is checked."""
    return JsonResponse({"live": True})


async def readyz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when every check passes, 503 when one fails; JSON with each check's result."""
    status, body = readiness_verdict(await readiness_run())
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response


PROBES: dict[str, Callable[[HttpRequest], Any]] = {"/livez": livez, "/readyz": readyz}


def probe_middleware(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    """Answer the probes before host validation and the rest of the middleware.

    A container orchestrator probes the pod's address, which is rarely in ALLOWED_HOSTS;
    the probes build no URL from the Host header, so they may skip the check.
    """
    if iscoroutinefunction(get_response):

        async def middleware_async(request: HttpRequest) -> HttpResponse:
            view = PROBES.get(request.path_info)
            if view is None or request.method not in ("GET", "HEAD"):
                return await get_response(request)
            result = view(request)
            return await result if asyncio.iscoroutine(result) else result

        markcoroutinefunction(middleware_async)
        return middleware_async

    def middleware(request: HttpRequest) -> HttpResponse:
        view = PROBES.get(request.path_info)
        if view is None or request.method not in ("GET", "HEAD"):
            return get_response(request)
        return async_to_sync(view)(request) if iscoroutinefunction(view) else view(request)

    return middleware


probe_middleware.sync_capable = True  # type: ignore[attr-defined]
probe_middleware.async_capable = True  # type: ignore[attr-defined]
