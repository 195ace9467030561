"""The bots in the admin: added with a new or an imported identity that no page shows again."""

from __future__ import annotations

from typing import Any

import segno
from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from bots.models import Bot
from bots.services import BotError, bot_add, bot_remove, bots_enable, identities_problem
from bridge.identity import IdentityError, mnemonic_check, session_id_of


class BotAddForm(forms.ModelForm):
    """A new bot: its words go in once (or are generated) and never come back out."""

    mnemonic = forms.CharField(
        label=_("mnemonic"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_(
            "The 13 words of an existing Session identity, to import it; leave empty for a new one. "
            "Stored encrypted and never shown again (manage.py bots export-key NAME prints them)."
        ),
    )

    class Meta:
        model = Bot
        fields = ["name", "display_name"]

    def clean_mnemonic(self) -> str | None:
        words: str = self.cleaned_data.get("mnemonic") or ""
        if not words.strip():
            return None
        try:
            return mnemonic_check(words, source=str(_("The mnemonic")))
        except IdentityError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        problem = identities_problem()
        if problem:
            raise forms.ValidationError(problem)
        words = cleaned.get("mnemonic")
        if words and Bot.objects.filter(session_id=session_id_of(words)).exists():
            self.add_error("mnemonic", _("A bot with this identity exists already."))
        return cleaned


@admin.register(Bot)
class BotAdmin(admin.ModelAdmin):
    """List, add, switch and remove bots; the change page shows the Session ID to scan."""

    list_display = ["name", "session_id", "enabled", "display_name"]
    list_filter = ["enabled"]
    search_fields = ["name", "session_id", "display_name"]
    actions = ["enable", "disable"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = BotAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["name", "display_name", "mnemonic"]
        return ["name", "session_id", "session_id_qr", "display_name", "enabled", "settings", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # The name is how commands and runbridge --bot find the bot; the Session ID is its key's.
        return ["name", "session_id", "session_id_qr", "created_at"] if obj is not None else []

    @admin.display(description=_("scan to chat"))
    def session_id_qr(self, obj: Bot) -> str:
        # The SVG is segno's, made from a validated Session ID (hex only): nothing to escape.
        svg = segno.make(obj.session_id, error="L").svg_inline(scale=4)
        text = format_html(
            '<input type="text" readonly value="{}" size="70" onfocus="this.select()" aria-label="{}">',
            obj.session_id,
            _("Session ID"),
        )
        return format_html("{}<br>{}", mark_safe(svg), text)  # noqa: S308

    def save_model(self, request: HttpRequest, obj: Bot, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        try:
            saved = bot_add(name=obj.name, words=form.cleaned_data.get("mnemonic"), display_name=obj.display_name)
        except BotError as exc:
            raise forms.ValidationError(str(exc)) from None
        obj.pk, obj.session_id, obj.created_at = saved.pk, saved.session_id, saved.created_at

    def delete_model(self, request: HttpRequest, obj: Bot) -> None:
        bot_remove(name=obj.name)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        for name in queryset.values_list("name", flat=True):
            bot_remove(name=name)

    @admin.action(description=_("Enable the selected bots"))
    def enable(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        count = bots_enable(names=list(queryset.values_list("name", flat=True)), enabled=True)
        self.message_user(request, ngettext("%d bot enabled.", "%d bots enabled.", count) % count)

    @admin.action(description=_("Disable the selected bots"))
    def disable(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        count = bots_enable(names=list(queryset.values_list("name", flat=True)), enabled=False)
        self.message_user(request, ngettext("%d bot disabled.", "%d bots disabled.", count) % count)
