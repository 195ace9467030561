"""The admin's "Install a plugin" page and its job page: thin views over ``plugins.install``.

Reached through the admin's own URLs (``PluginAdmin.get_urls``), so only signed-in staff
with the right to add plugins get here, with the admin's CSRF protection.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from plugins.archives import ARCHIVE_MAX_BYTES
from plugins.installjobs import install_job_activate, install_job_start, install_jobs_lost_fail
from plugins.installplan import InstallError
from plugins.installsource import uploads_allowed
from plugins.models import InstallJob, Plugin

UPLOAD_MAX_BYTES = ARCHIVE_MAX_BYTES  # every machine gets the archive from the database
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class InstallForm(forms.Form):
    source = forms.CharField(
        label=gettext_lazy("Source"),
        required=False,
        max_length=1000,
        help_text=gettext_lazy("A git URL, a requirement such as name==1.2, or a plugin folder on this machine."),
        widget=forms.TextInput(attrs={"size": 80}),
    )
    ref = forms.CharField(
        label=gettext_lazy("Ref"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("For a git URL: a tag, branch or commit (empty: the default branch)."),
    )
    archive = forms.FileField(label=gettext_lazy("Archive"), required=False)
    activate = forms.BooleanField(
        label=gettext_lazy("Activate"),
        required=False,
        initial=True,
        help_text=gettext_lazy("Make it the serving version once it is installed."),
    )

    def __init__(self, *args: Any, uploads: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not uploads:
            del self.fields["archive"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        archive: UploadedFile | None = data.get("archive")
        if bool(data.get("source", "").strip()) == bool(archive):
            raise forms.ValidationError(_("Give a source or upload an archive (one of them)."))
        if archive is not None and (archive.size or 0) > UPLOAD_MAX_BYTES:
            limit = UPLOAD_MAX_BYTES // (1024 * 1024)
            raise forms.ValidationError(_("The archive is larger than %(limit)d MB.") % {"limit": limit})
        return data


def _upload_store(archive: UploadedFile) -> Path:
    """Keep the archive under DATA_DIR/uploads (its own folder, its name made safe)."""
    folder = Path(settings.DATA_DIR) / "uploads" / uuid.uuid4().hex
    folder.mkdir(mode=0o700, parents=True)
    name = _UNSAFE.sub("_", Path(archive.name or "archive").name).lstrip(".") or "archive"
    path = folder / name
    with path.open("wb") as out:
        for chunk in archive.chunks():
            out.write(chunk)
    return path


def _allowed(request: HttpRequest) -> None:
    if not request.user.has_perm("plugins.add_plugin"):
        raise PermissionDenied


def install_view(request: HttpRequest, *, site: admin.AdminSite) -> HttpResponse:
    """Paste a source or upload an archive; the install runs in the background."""
    _allowed(request)
    uploads = uploads_allowed()
    form = InstallForm(request.POST or None, request.FILES or None, uploads=uploads)
    if request.method == "POST" and form.is_valid():
        archive = form.cleaned_data.get("archive")
        upload = str(_upload_store(archive)) if archive is not None else ""
        job = install_job_start(
            source=form.cleaned_data["source"].strip(),
            ref=form.cleaned_data["ref"].strip(),
            upload=upload,
            activate=form.cleaned_data["activate"],
        )
        return HttpResponseRedirect(reverse("admin:plugins_plugin_install_job", args=[job.pk]))
    context = {
        **site.each_context(request),
        "title": _("Install a plugin"),
        "form": form,
        "uploads": uploads,
        "opts": Plugin._meta,
    }
    return TemplateResponse(request, "admin/plugins/install.html", context)


def install_job_view(request: HttpRequest, job_id: int, *, site: admin.AdminSite) -> HttpResponse:
    """Where an install stands: state, step, error and the build log; Activate when it can."""
    _allowed(request)
    install_jobs_lost_fail()  # a job whose worker stopped shows as failed, not running for ever
    job = get_object_or_404(InstallJob.objects.select_related("version__plugin"), pk=job_id)
    version = job.version
    active = version is not None and version.plugin.active_version_id == version.pk
    if request.method == "POST" and "activate" in request.POST:
        try:
            messages.success(request, install_job_activate(job=job))
        except InstallError as exc:
            messages.error(request, exc.message)
        return HttpResponseRedirect(request.path)
    context = {
        **site.each_context(request),
        "title": _("Install #%(id)d") % {"id": job.pk},
        "job": job,
        "opts": Plugin._meta,
        "running": job.state in (InstallJob.State.QUEUED, InstallJob.State.RUNNING),
        "active": active,
        "can_activate": job.state == InstallJob.State.SUCCEEDED and version is not None and not active,
    }
    return TemplateResponse(request, "admin/plugins/install_job.html", context)
