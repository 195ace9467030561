from django.contrib import admin
from django.urls import path

from sessionbot.views import healthz

admin.site.site_header = "sessionbot"
admin.site.site_title = "sessionbot admin"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
