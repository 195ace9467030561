from django.conf import settings
from django.contrib import admin
from django.urls import path

from sessionbot.metrics import metrics_view
from sessionbot.readiness import livez, readyz
from sessionbot.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("livez", livez, name="livez"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path(settings.ADMIN_PATH, admin.site.urls),
]
