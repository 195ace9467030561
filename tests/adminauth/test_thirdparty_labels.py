"""django-otp's, axes' and Django's own permission names in the operator's language."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.utils import translation
from django_otp.plugins.otp_totp.models import TOTPDevice

from adminauth.permissions import permission_label


@pytest.mark.parametrize(
    ("language", "label"),
    [
        ("en", "Bots | Bot | Can add bot"),
        ("es", "Bots | Bot | Puede añadir bot"),
        ("zh-hans", "机器人 | 机器人 | 可以添加机器人"),
    ],
)
def test_a_permission_is_named_in_the_active_language(db, language: str, label: str) -> None:
    permission = Permission.objects.get(codename="add_bot")
    with translation.override(language):
        assert permission_label(permission) == label


@pytest.mark.parametrize(
    ("language", "app", "model", "field"),
    [
        ("en", "Two-factor login: authenticator apps", "authenticator app", "time step"),
        (
            "es",
            "Inicio de sesión en dos pasos: aplicaciones de autenticación",
            "aplicación de autenticación",
            "intervalo",
        ),
        ("zh-hans", "双重验证登录\uff1a验证器应用", "验证器应用", "时间步长"),
    ],
)
def test_django_otps_names_are_translated(language: str, app: str, model: str, field: str) -> None:
    with translation.override(language):
        assert str(apps.get_app_config("otp_totp").verbose_name) == app
        assert str(TOTPDevice._meta.verbose_name) == model
        assert str(TOTPDevice._meta.get_field("step").verbose_name) == field
