"""``/metrics``: the Prometheus exposition of what the apps register.

Each app registers a function that builds its families at scrape time
(``metrics_families_register`` from its ``AppConfig.ready``); this module serves them to
loopback or to a holder of ``METRICS_TOKEN``, and imports no app.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from sessionbot.metricsaccess import ALLOWED, TOKEN_REQUIRED, metrics_access

Families = Callable[[], Iterator[Metric]]
_FORWARDING = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")
_families: dict[str, Families] = {}


def metrics_families_register(name: str, families: Families) -> None:
    """Add ``families`` to every scrape under ``name`` (registering a name again replaces it)."""
    _families[name] = families


class BotCollector:
    """Builds every registered family on each scrape."""

    def describe(self) -> list[Metric]:
        # Registering must not query the database; the families are only known at scrape time.
        return []

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        for name in sorted(_families):
            yield from _families[name]()
        elapsed = time.perf_counter() - started
        yield GaugeMetricFamily("sessionbot_scrape_duration_seconds", "Time this scrape took.", value=elapsed)


def metrics_render(*, accept: str = "") -> tuple[bytes, str]:
    """The exposition of the bot's metrics in the format ``accept`` asks for, and its content type.

    Prometheus asks for OpenMetrics, which has a native gauge histogram; other clients get
    the classic text format.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BotCollector())
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Serve ``/metrics`` to loopback or to a holder of ``METRICS_TOKEN``."""
    decision = metrics_access(
        remote_addr=request.META.get("REMOTE_ADDR", ""),
        forwarded=any(request.META.get(header) for header in _FORWARDING),
        authorization=request.META.get("HTTP_AUTHORIZATION", ""),
        token=settings.METRICS_TOKEN,
    )
    if decision != ALLOWED:
        if decision == TOKEN_REQUIRED:
            response = HttpResponse(_("Send Authorization: Bearer <METRICS_TOKEN>.\n"), status=decision)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        message = _("Metrics are served to this machine only; set METRICS_TOKEN to scrape them from elsewhere.\n")
        return HttpResponse(message, status=decision)
    body, content_type = metrics_render(accept=request.META.get("HTTP_ACCEPT", ""))
    return HttpResponse(body, content_type=content_type)
