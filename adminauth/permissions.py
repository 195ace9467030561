"""Permissions named in the operator's language on the user and group pages.

Django stores each permission's name in English when the tables are made ("Can add bot"),
so the permission pickers would show English in every language. The default permissions
are named here from their model's translated names instead; others keep their stored name.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin import AdminSite
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, Permission, User
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

ACTIONS = {
    "add": _("Can add %(model)s"),
    "change": _("Can change %(model)s"),
    "delete": _("Can delete %(model)s"),
    "view": _("Can view %(model)s"),
}


def permission_label(permission: Permission) -> str:
    """``app | model | Can add model`` in the active language."""
    model = permission.content_type.model_class()
    action, _sep, model_name = permission.codename.partition("_")
    if model is None or action not in ACTIONS or model_name != model._meta.model_name:
        return str(permission)
    meta = model._meta
    text = ACTIONS[action] % {"model": meta.verbose_name}
    return f"{meta.app_config.verbose_name} | {capfirst(meta.verbose_name)} | {text}"


def _labelled(field: Any, db_field: Any) -> Any:
    if field is not None and db_field.name in ("permissions", "user_permissions"):
        field.label_from_instance = permission_label
    return field


class TranslatedGroupAdmin(GroupAdmin):
    def formfield_for_manytomany(self, db_field: Any, request: Any = None, **kwargs: Any) -> Any:
        return _labelled(super().formfield_for_manytomany(db_field, request, **kwargs), db_field)


class TranslatedUserAdmin(UserAdmin):
    def formfield_for_manytomany(self, db_field: Any, request: Any = None, **kwargs: Any) -> Any:
        return _labelled(super().formfield_for_manytomany(db_field, request, **kwargs), db_field)


def auth_admins_replace(site: AdminSite) -> None:
    for model, admin_class in ((Group, TranslatedGroupAdmin), (User, TranslatedUserAdmin)):
        if site.is_registered(model):
            site.unregister(model)
        site.register(model, admin_class)
