"""The bots in the admin: added with a new or an imported identity that no page shows again."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from bots.models import Bot
from bots.panels import bot_inlines, bot_panels, bots_column
from bots.qr import session_id_qr_html
from bots.services import (
    BotError,
    bot_add,
    bot_purge_preview,
    bot_remove,
    bots_enable,
    bots_purge,
    bots_remove,
    identities_problem,
)
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
        if words and Bot.objects.filter(session_id=session_id_of(words), removed_at__isnull=True).exists():
            self.add_error("mnemonic", _("A bot with this identity exists already."))
        return cleaned


class RemovedFilter(admin.SimpleListFilter):
    """Removed bots (their history kept) are out of the way unless asked for."""

    title = _("removed")
    parameter_name = "removed"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("removed")), ("all", _("all, removed too"))]

    def choices(self, changelist: Any) -> Any:
        choices = super().choices(changelist)
        unfiltered = next(choices)  # Django's "All" is, here, the bots not removed
        yield {**unfiltered, "display": _("not removed")}
        yield from choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Bot]) -> QuerySet[Bot]:
        if self.value() == "yes":
            return queryset.filter(removed_at__isnull=False)
        if self.value() == "all":
            return queryset
        return queryset.filter(removed_at__isnull=True)


@admin.register(Bot)
class BotAdmin(admin.ModelAdmin):
    """List, add, switch, remove and purge bots; the change page shows the Session ID to
    scan and what other apps register in ``bots.panels``."""

    list_display = ["name", "session_id", "enabled", "display_name", "activity_column"]
    list_filter = [RemovedFilter, "enabled"]
    search_fields = ["name", "session_id", "display_name"]
    actions = ["enable", "disable", "purge"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = BotAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["name", "display_name", "mnemonic"]
        fields = ["name", "session_id", "session_id_qr", "display_name", "enabled", "settings", "created_at"]
        if obj.removed_at is not None:
            fields.append("removed_at")
        return [*fields, "activity"]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = self.get_fields(request, obj)
        if obj is None:
            return [(None, {"fields": fields})]
        # What other apps show (bots.panels) gets a section of its own under the bot's fields.
        return [(None, {"fields": fields[:-1]}), (_("Activity"), {"fields": fields[-1:]})]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # The name is how commands and runbridge --bot find the bot; the Session ID is its key's.
        return ["name", "session_id", "session_id_qr", "created_at", "removed_at", "activity"] if obj else []

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[Any]:
        return [*self.inlines, *bot_inlines()] if obj is not None else []

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A removed bot's page is a record: it cannot be enabled or set up again.
        return super().has_change_permission(request, obj) and (obj is None or obj.removed_at is None)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and (obj is None or obj.removed_at is None)

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[Any], dict[Any, int], set[Any], list[Any]]:
        # Deleting a bot here removes it and keeps its history: nothing else goes.
        bots = list(objs)
        return [str(bot) for bot in bots], {Bot._meta.verbose_name_plural: len(bots)}, set(), []

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        page = list(changelist.result_list)  # the page's query, kept by the queryset for the template
        columns = bots_column(page)
        for bot in page:
            bot.activity_texts = columns.get(bot.pk, [])
        return changelist

    @admin.display(description=_("activity"))
    def activity_column(self, obj: Bot) -> str:
        return " · ".join(getattr(obj, "activity_texts", [])) or "-"

    @admin.display(description=_("activity"))
    def activity(self, obj: Bot) -> str:
        sections = [
            format_html(
                '<table class="bot-panel"><caption>{}</caption><tbody>{}</tbody></table>',
                title,
                format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows) if rows else "",
            )
            for title, rows in bot_panels(obj)
        ]
        return format_html_join("", "{}", ((section,) for section in sections)) or "-"

    @admin.display(description=_("scan to chat"))
    def session_id_qr(self, obj: Bot) -> str:
        return session_id_qr_html(obj.session_id)

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
        bots_remove(pks=list(queryset.values_list("pk", flat=True)))

    @admin.action(description=_("Purge the selected bots with their history"), permissions=["delete"])
    def purge(self, request: HttpRequest, queryset: QuerySet[Bot]) -> TemplateResponse | None:
        pks = list(queryset.values_list("pk", flat=True))
        if request.POST.get("confirm") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": _("Purge bots"),
                "opts": self.model._meta,
                "bots": list(queryset),
                "purge": bot_purge_preview(pks=pks),
            }
            return TemplateResponse(request, "admin/bots/bot/purge_confirmation.html", context)
        done = bots_purge(pks=pks)
        rows = ", ".join(f"{count} {label}" for label, count in done.rows.items())
        self.message_user(
            request,
            ngettext("%(count)d row deleted: %(rows)s.", "%(count)d rows deleted: %(rows)s.", done.total)
            % {"count": done.total, "rows": rows},
        )
        return None

    @admin.action(description=_("Enable the selected bots"))
    def enable(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        count = bots_enable(names=list(queryset.values_list("name", flat=True)), enabled=True)
        self.message_user(request, ngettext("%d bot enabled.", "%d bots enabled.", count) % count)

    @admin.action(description=_("Disable the selected bots"))
    def disable(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        count = bots_enable(names=list(queryset.values_list("name", flat=True)), enabled=False)
        self.message_user(request, ngettext("%d bot disabled.", "%d bots disabled.", count) % count)
