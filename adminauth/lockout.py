"""django-axes hooks: the address failures are counted under, and the lockout page."""

from __future__ import annotations

import threading
import time
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from sessionbot.httpenv import client_address


def client_ip(request: HttpRequest) -> str:
    """The peer's address; runbroker has already taken it from a trusted proxy's header."""
    return client_address(request.META.get("REMOTE_ADDR", ""))


def lockout_response(request: HttpRequest, original_response: Any = None, credentials: Any = None) -> HttpResponse:
    """429 with a page in the admin's look that says how long the lock lasts."""
    minutes = settings.LOGIN_COOLOFF_MINUTES
    return render(request, "adminauth/lockout.html", {"minutes": minutes}, status=429)


class AxesHandler(AxesDatabaseHandler):
    """axes' database handler, deleting expired attempts at most once a minute per process.

    axes deletes them on every failed login, locked-out ones included: on SQLite that is a
    write per refused guess, and a flood's writers queue for the one write lock. Expired
    attempts are never counted, so deleting them is only housekeeping.
    """

    CLEAN_EVERY = 60.0
    _cleaned_at = 0.0
    _clean_lock = threading.Lock()

    def clean_expired_user_attempts(self, request: Any = None, credentials: Any = None) -> int:
        with AxesHandler._clean_lock:
            now = time.monotonic()
            if now - AxesHandler._cleaned_at < self.CLEAN_EVERY:
                return 0
            AxesHandler._cleaned_at = now
        return super().clean_expired_user_attempts(request, credentials)
