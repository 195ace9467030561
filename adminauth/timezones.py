"""Times in each operator's own time zone: the browser names it, the admin shows it.

``templates/admin/base_site.html`` stores the browser's IANA zone (``Intl``) in the
``tz`` cookie; this middleware activates it for the request when it is a zone this
machine knows. Without the cookie, or with a name it does not know, times are in
``TIME_ZONE``.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from sessionbot.envcheck import time_zones

COOKIE = "tz"


def browser_zone(raw: str | None) -> zoneinfo.ZoneInfo | None:
    """The zone a ``tz`` cookie names, or ``None`` for none or an unknown name."""
    name = unquote(raw or "").strip()
    if not name or len(name) > 64 or name not in time_zones():
        return None
    return zoneinfo.ZoneInfo(name)


class BrowserTimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = browser_zone(request.COOKIES.get(COOKIE))
        if zone is None:
            timezone.deactivate()
            return self.get_response(request)
        with timezone.override(zone):
            return self.get_response(request)
