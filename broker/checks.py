"""Start-up warnings about the deployment (Django's system checks: ``manage.py check``, ``runbroker``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from sessionbot import envcheck


def redis_password_check(**kwargs: Any) -> list[checks.CheckMessage]:
    message = envcheck.redis_password_warning(settings.REDIS_URL, debug=settings.DEBUG)
    return [] if message is None else [checks.Warning(message, id="sessionbot.W001")]
