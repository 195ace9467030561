"""The admin for users, groups, plugins and telemetry: thin, actions call plugins.operations."""

from __future__ import annotations

import functools
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from bots.panels import inline_register, panel_register
from plugins import botadmin
from plugins.commands import command_usage
from plugins.environments.store import environment_size
from plugins.envnames import env_name_problem, env_value_problem
from plugins.installadmin import install_job_view, install_view
from plugins.installjobs import install_jobs_lost_fail
from plugins.lifecycle import LifecycleError, plugin_action
from plugins.models import (
    BotGroup,
    BotUser,
    InstallJob,
    Invocation,
    PermissionGrant,
    Plugin,
    PluginCommand,
    PluginSecret,
    PluginVersion,
    QueueWorker,
)
from plugins.operations import botusers_block, plugins_enable, versions_activate
from plugins.runtime_admin import reload_plugins
from plugins.sandbox.system import size_format
from plugins.secrets import plugin_secret_set, plugin_secret_unset, secrets_problem
from plugins.versions import ActivationError, version_check
from sessionbot.durations import duration_ms_text


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the bot itself: viewable, never added, changed or deleted by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class GrantInline(admin.TabularInline):
    model = PermissionGrant
    extra = 0
    autocomplete_fields = ["plugin", "user", "group"]


class UserGrantInline(GrantInline):
    fk_name = "user"
    fields = ["effect", "plugin", "command"]


class GroupGrantInline(GrantInline):
    fk_name = "group"
    fields = ["effect", "plugin", "command"]


class PluginGrantInline(GrantInline):
    fk_name = "plugin"
    fields = ["effect", "command", "user", "group"]


@admin.register(BotUser)
class BotUserAdmin(admin.ModelAdmin):
    list_display = ["__str__", "bot", "session_id", "display_name", "language", "is_admin", "blocked", "last_seen"]
    list_filter = ["bot", "blocked", "is_admin", "language"]
    list_select_related = ["bot"]
    search_fields = ["session_id", "display_name"]
    readonly_fields = ["first_seen", "last_seen"]
    date_hierarchy = "last_seen"
    inlines = [UserGrantInline]
    actions = ["block", "unblock"]

    @admin.action(description=_("Block the selected users"))
    def block(self, request: HttpRequest, queryset: QuerySet[BotUser]) -> None:
        count = botusers_block(users=queryset, blocked=True)
        self.message_user(request, ngettext("%d user blocked.", "%d users blocked.", count) % count)

    @admin.action(description=_("Unblock the selected users"))
    def unblock(self, request: HttpRequest, queryset: QuerySet[BotUser]) -> None:
        count = botusers_block(users=queryset, blocked=False)
        self.message_user(request, ngettext("%d user unblocked.", "%d users unblocked.", count) % count)


class MembershipInline(admin.TabularInline):
    model = BotGroup.members.through
    extra = 0
    autocomplete_fields = ["botuser"]
    verbose_name = _("member")
    verbose_name_plural = _("members")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and db_field.name == "botuser":
            field.label = _("bot user")  # the automatic through model's column is "botuser"
        return field


# A membership row is shown by its user ("BotGroup_members object (1)" otherwise).
BotGroup.members.through.__str__ = lambda membership: str(membership.botuser)  # type: ignore[method-assign,attr-defined]


@admin.register(BotGroup)
class BotGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "member_count"]
    search_fields = ["name", "description", "members__session_id", "members__display_name"]
    exclude = ["members"]
    inlines = [MembershipInline, GroupGrantInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[BotGroup]:
        return super().get_queryset(request).annotate(member_total=Count("members"))

    @admin.display(description=_("members"), ordering="member_total")
    def member_count(self, obj: BotGroup) -> int:
        return int(getattr(obj, "member_total", 0))


class VersionInline(admin.TabularInline):
    model = PluginVersion
    extra = 0
    show_change_link = True
    readonly_fields = ["version", "entrypoint", "isolation", "network", "checksum", "imported_at", "activated_at"]
    fields = tuple(readonly_fields)
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # Versions come from importplugins, which checks their code.


class PluginForm(forms.ModelForm):
    class Meta:
        model = Plugin
        fields = ["name", "enabled", "active_version", "default_policy", "default_handler", "config"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["active_version"]
        assert isinstance(field, forms.ModelChoiceField)
        # Only this plugin's own versions can be active (none yet while adding it).
        field.queryset = PluginVersion.objects.filter(plugin_id=self.instance.pk or 0)

    def clean_active_version(self) -> PluginVersion | None:
        version: PluginVersion | None = self.cleaned_data.get("active_version")
        if version is not None and version.pk != self.instance.active_version_id:
            try:
                version_check(version=version)
            except ActivationError as exc:
                raise forms.ValidationError(str(exc)) from None
        return version


@admin.register(Plugin)
class PluginAdmin(admin.ModelAdmin):
    form = PluginForm
    change_list_template = "admin/plugins/plugin/change_list.html"  # links "Install a plugin"
    list_display = [
        "name",
        "enabled",
        "active_version",
        "default_policy",
        "default_handler",
        "load_state",
        "health_status",
        "last_success_at",
        "last_error_at",
    ]
    list_filter = ["enabled", "default_policy", "default_handler", "load_state", "health_status"]
    search_fields = ["name"]
    list_select_related = ["active_version"]
    readonly_fields = [
        "load_state",
        "last_error",
        "last_error_at",
        "last_success_at",
        "health_status",
        "health_detail",
        "health_checked_at",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "enabled", "active_version", "default_policy", "default_handler", "config"]}),
        (_("Secrets"), {"fields": ["secret_names"]}),
        (_("Health"), {"fields": tuple(readonly_fields)}),
    ]
    inlines = [VersionInline, PluginGrantInline, botadmin.PluginOffersInline]
    actions = ["enable", "disable", "rollback", reload_plugins]

    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site
        own = [
            path(
                "install/",
                site.admin_view(functools.partial(install_view, site=site)),
                name="plugins_plugin_install",
            ),
            path(
                "install/<int:job_id>/",
                site.admin_view(functools.partial(install_job_view, site=site)),
                name="plugins_plugin_install_job",
            ),
        ]
        return own + super().get_urls()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*self.readonly_fields, "secret_names"]

    @admin.display(description=_("secrets"))
    def secret_names(self, obj: Plugin) -> str:
        """The names of its secrets (never a value), and where they are set."""
        if obj.pk is None:
            return "-"
        names = ", ".join(obj.secrets.values_list("key", flat=True)) or _("none")
        url = reverse("admin:plugins_pluginsecret_changelist") + f"?plugin__id__exact={obj.pk}"
        return format_html('{} (<a href="{}">{}</a>)', names, url, _("set or remove"))

    def save_model(self, request: HttpRequest, obj: Plugin, form: Any, change: bool) -> None:
        wanted = obj.active_version
        if change and "active_version" in form.changed_data and wanted is not None:
            # Switch through the activation service so it records the switch for rollback.
            obj.active_version_id = form.initial.get("active_version")
            super().save_model(request, obj, form, change)
            versions_activate(versions=[wanted])
            obj.refresh_from_db()
            return
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Enable the selected plugins"))
    def enable(self, request: HttpRequest, queryset: QuerySet[Plugin]) -> None:
        count = plugins_enable(plugins=queryset, enabled=True)
        self.message_user(request, ngettext("%d plugin enabled.", "%d plugins enabled.", count) % count)

    @admin.action(description=_("Disable the selected plugins"))
    def disable(self, request: HttpRequest, queryset: QuerySet[Plugin]) -> None:
        count = plugins_enable(plugins=queryset, enabled=False)
        self.message_user(request, ngettext("%d plugin disabled.", "%d plugins disabled.", count) % count)

    @admin.action(description=_("Roll back to the previously active version"))
    def rollback(self, request: HttpRequest, queryset: QuerySet[Plugin]) -> None:
        for plugin in queryset:
            # The chat's and the CLI's rollback too: one service, one message.
            try:
                self.message_user(request, plugin_action(action="rollback", name=plugin.name))
            except LifecycleError as exc:
                self.message_user(request, str(exc), messages.ERROR)


class PluginSecretForm(forms.ModelForm):
    """A secret's value goes in and never comes back out: the field is always shown empty."""

    value = forms.CharField(
        label=_("value"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Stored encrypted; never shown again. Leave empty to keep the value set."),
    )

    class Meta:
        model = PluginSecret
        fields = ["plugin", "key"]

    def clean_key(self) -> str:
        key: str = self.cleaned_data["key"]
        problem = env_name_problem(key)
        if problem:
            raise forms.ValidationError(problem)
        return key

    def clean_value(self) -> str:
        value: str = self.cleaned_data.get("value") or ""
        if not value and self.instance.pk is None:
            raise forms.ValidationError(_("Enter the value."))
        problem = env_value_problem(value) or (secrets_problem() if value else "")
        if problem:
            raise forms.ValidationError(problem)
        return value


@admin.register(PluginSecret)
class PluginSecretAdmin(admin.ModelAdmin):
    """Set a secret, replace its value or remove it; its value is never displayed."""

    form = PluginSecretForm
    list_display = ["key", "plugin", "state"]
    list_filter = ["plugin"]
    search_fields = ["key", "plugin__name"]
    list_select_related = ["plugin"]
    autocomplete_fields = ["plugin"]
    fields = ["plugin", "key", "value", "state"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A secret is replaced under its name, not renamed: a new name is a new secret.
        return ["plugin", "key", "state"] if obj is not None else ["state"]

    @admin.display(description=_("state"))
    def state(self, obj: PluginSecret) -> str:
        if obj.pk is None:
            return _("not set")
        when = date_format(timezone.localtime(obj.updated_at), "DATETIME_FORMAT")
        return _("set, updated at %(when)s") % {"when": when}

    def save_model(self, request: HttpRequest, obj: PluginSecret, form: Any, change: bool) -> None:
        value = form.cleaned_data.get("value") or ""
        if not value:
            return  # nothing entered: the value set stays
        saved = plugin_secret_set(plugin=obj.plugin.name, key=obj.key, value=value)
        obj.pk, obj.ciphertext, obj.updated_at = saved.pk, saved.ciphertext, saved.updated_at

    def delete_model(self, request: HttpRequest, obj: PluginSecret) -> None:
        plugin_secret_unset(plugin=obj.plugin.name, key=obj.key)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[PluginSecret]) -> None:
        for secret in queryset.select_related("plugin"):
            plugin_secret_unset(plugin=secret.plugin.name, key=secret.key)


class CommandInline(admin.TabularInline):
    """A version's commands as its code declares them: read-only (a reload rewrites them)."""

    model = PluginCommand
    extra = 0
    fields = ["name", "usage", "summary", "translations", "policy", "filters"]
    readonly_fields = ["name", "usage", "summary", "translations", "policy", "filters"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("usage"))
    def usage(self, obj: PluginCommand) -> str:
        return command_usage(command=obj)

    @admin.display(description=_("translations"))
    def translations(self, obj: PluginCommand) -> str:
        return ", ".join(sorted(obj.docs)) if isinstance(obj.docs, dict) else ""


@admin.register(PluginVersion)
class PluginVersionAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "plugin",
        "version",
        "is_active",
        "entrypoint",
        "source_kind",
        "build_state",
        "isolation",
        "network",
        "imported_at",
    ]
    list_filter = ["build_state", "source_kind", "isolation", "network", "plugin"]
    search_fields = ["plugin__name", "version", "entrypoint"]
    list_select_related = ["plugin"]
    readonly_fields = [
        "plugin",
        "version",
        "entrypoint",
        "manifest",
        "dependencies",
        "requirements",
        "checksum",
        "imported_at",
        "activated_at",
        "source_kind",
        "source",
        "ref",
        "resolved",
        "environment",
        "build_state",
        "build_error",
        "pins",
        "environment_size",
    ]
    fields = [
        *readonly_fields[:6],
        ("isolation", "network", "queue"),
        ("timeout_seconds", "memory_mb", "cpu_seconds"),
        *readonly_fields[6:9],
        ("source_kind", "source", "ref"),
        "resolved",
        ("environment", "environment_size", "build_state"),
        "build_error",
        "pins",
    ]
    inlines = [CommandInline]
    actions = ["activate"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # Versions come from importplugins, which checks their code.

    @admin.display(description=_("environment size"))
    def environment_size(self, obj: PluginVersion) -> str:
        if not obj.environment:
            return "-"
        size = environment_size(obj.environment)
        return size_format(size) if size is not None else str(_("not on this machine"))

    @admin.display(boolean=True, description=_("active"))
    def is_active(self, obj: PluginVersion) -> bool:
        return obj.plugin.active_version_id == obj.pk

    @admin.action(description=_("Activate the selected versions"))
    def activate(self, request: HttpRequest, queryset: QuerySet[PluginVersion]) -> None:
        done, failed = versions_activate(versions=queryset.select_related("plugin"))
        for version in done:
            self.message_user(request, _("%(version)s is now active.") % {"version": version})
        for reason in failed:
            self.message_user(request, _("Not activated: %(reason)s") % {"reason": reason}, messages.ERROR)


@admin.register(QueueWorker)
class QueueWorkerAdmin(ReadOnlyAdmin):
    """Which worker serves which Celery queue, as last seen (a plugin's queue needs one)."""

    list_display = ["queue", "worker", "seen_at"]
    list_filter = ["queue"]
    ordering = ["queue", "worker"]


@admin.register(PluginCommand)
class PluginCommandAdmin(ReadOnlyAdmin):
    """Commands are derived from the plugins' code at import and reload; read-only here."""

    list_display = ["name", "usage", "version", "summary", "policy"]
    list_filter = ["policy", "version__plugin"]
    search_fields = ["name", "summary", "version__plugin__name"]
    list_select_related = ["version__plugin"]
    fields = ["version", "name", "usage", "summary", "help", "docs", "policy", "filters"]
    readonly_fields = ["version", "name", "usage", "summary", "help", "docs", "policy", "filters"]

    @admin.display(description=_("usage"))
    def usage(self, obj: PluginCommand) -> str:
        return command_usage(command=obj)


@admin.register(PermissionGrant)
class PermissionGrantAdmin(admin.ModelAdmin):
    list_display = ["__str__", "effect", "plugin", "command", "user", "group", "bot", "created_at"]
    list_filter = ["effect", "plugin", "bot"]
    search_fields = ["plugin__name", "command", "user__session_id", "user__display_name", "group__name"]
    autocomplete_fields = ["plugin", "user", "group"]
    list_select_related = ["plugin", "user", "group", "bot"]


@admin.register(InstallJob)
class InstallJobAdmin(ReadOnlyAdmin):
    """Installs run from the "Install a plugin" page; each row opens its job page."""

    list_display = ["__str__", "job_page", "state", "step", "version", "created_at", "finished_at"]
    list_filter = ["state"]
    search_fields = ["source", "name", "error"]
    list_select_related = ["version__plugin"]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        install_jobs_lost_fail()  # a job whose worker stopped shows as failed, not running for ever
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("build log"))
    def job_page(self, obj: InstallJob) -> str:
        url = reverse("admin:plugins_plugin_install_job", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("state and log"))


@admin.register(Invocation)
class InvocationAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "bot",
        "command",
        "user",
        "plugin_version",
        "status",
        "queued_at",
        "duration",
        "attempts",
    ]
    list_filter = ["bot", "status", "conversation_type", "plugin_version__plugin"]
    search_fields = ["key", "command", "arguments", "user__session_id", "error"]
    date_hierarchy = "queued_at"
    list_select_related = ["bot", "user", "plugin_version__plugin"]
    readonly_fields = ["duration"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        # The stored milliseconds (a float) are shown as "duration", where the field was.
        fields = [field for field in super().get_fields(request, obj) if field != "duration"]
        return ["duration" if field == "duration_ms" else field for field in fields]

    @admin.display(description=_("duration"), ordering="duration_ms")
    def duration(self, obj: Invocation) -> str:
        return duration_ms_text(obj.duration_ms)


inline_register(botadmin.BotOffersInline)
panel_register(
    key="plugins.runs",
    title=_("Plugins and users"),
    rows=botadmin.plugin_rows,
    column=botadmin.bots_column,
    order=30,
)
