"""Password checks one at a time per process, so a login flood cannot take every core.

A password check costs about 0.2 CPU-seconds by design. Concurrent guesses would each take
a core and starve every other request (``/healthz``, the bridge); here they queue, and
the rest keeps a core. In turn, each asks django-axes again: guesses that queued behind
the one that set a lock are refused without hashing.
"""

from __future__ import annotations

import threading
from typing import Any

from axes.backends import AxesStandaloneBackend
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

_ONE_CHECK = threading.Lock()


class OneAtATimeModelBackend(ModelBackend):
    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        with _ONE_CHECK:
            # Raises (as the first backend does) when the account or address is now locked.
            AxesStandaloneBackend().authenticate(request, username=username, password=password, **kwargs)
            return super().authenticate(request, username=username, password=password, **kwargs)
