"""The admin action that reloads plugins; plugins/admin.py lists it in PluginAdmin.actions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from plugins.lifecycle import LifecycleError, ReloadPending, plugin_reload
from plugins.models import Plugin


@admin.action(description=_("Reload the selected plugins' code"))
def reload_plugins(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Plugin]) -> None:
    """Reload each plugin; a failure keeps its previous code serving and is shown here.
    Where this process may not start plugin hosts, a worker reloads it (``plugin_reload``)."""
    for plugin in queryset.select_related("active_version"):
        try:
            modeladmin.message_user(request, plugin_reload(plugin=plugin), messages.SUCCESS)
        except ReloadPending as exc:
            modeladmin.message_user(request, str(exc), messages.WARNING)
        except LifecycleError as exc:
            modeladmin.message_user(request, str(exc), messages.ERROR)
