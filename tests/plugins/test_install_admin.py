"""The admin's "Install a plugin" page: a job that a real Celery worker runs, its log and Activate."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from plugins.execution import pool_close
from plugins.models import BuildState, InstallJob, Plugin
from tests.conftest import wait_for
from tests.plugins.test_install import plugin_folder

INSTALL = "admin:plugins_plugin_install"


@pytest.fixture(autouse=True)
def _hosts_closed():
    yield
    pool_close()


def _finished(job_id: int) -> InstallJob:
    assert wait_for(
        lambda: InstallJob.objects.get(pk=job_id).state in (InstallJob.State.SUCCEEDED, InstallJob.State.FAILED),
        timeout=90,
    )
    return InstallJob.objects.get(pk=job_id)


def _post(admin_client, **data) -> InstallJob:
    response = admin_client.post(reverse(INSTALL), {"ref": "", **data})
    assert response.status_code == 302, response.content.decode()[-2000:]
    job = InstallJob.objects.latest("created_at")
    assert response["Location"] == reverse("admin:plugins_plugin_install_job", args=[job.pk])
    return job


def test_the_plugin_list_links_the_install_page(admin_client, db) -> None:
    page = admin_client.get(reverse("admin:plugins_plugin_changelist")).content.decode()
    assert reverse(INSTALL) in page
    form = admin_client.get(reverse(INSTALL)).content.decode()
    assert 'name="source"' in form
    assert "csrfmiddlewaretoken" in form


def test_the_install_page_is_for_staff_only(client, db) -> None:
    response = client.get(reverse(INSTALL))
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_a_pasted_source_installs_in_the_worker_and_the_job_page_shows_the_log(
    admin_client, celery_worker, tmp_path
) -> None:
    name = f"p{uuid.uuid4().hex[:8]}"
    job = _post(admin_client, source=str(plugin_folder(tmp_path, name=name)), activate="on")
    page = admin_client.get(reverse("admin:plugins_plugin_install_job", args=[job.pk])).content.decode()
    assert 'http-equiv="refresh"' in page  # refreshes itself while it runs
    job = _finished(job.pk)
    assert job.state == InstallJob.State.SUCCEEDED, job.log + job.error
    assert job.name == name
    assert Plugin.objects.get(name=name).active_version_id == job.version_id
    page = admin_client.get(reverse("admin:plugins_plugin_install_job", args=[job.pk])).content.decode()
    assert "[check]" in page
    assert "[activate]" in page
    assert 'http-equiv="refresh"' not in page
    assert 'name="activate"' not in page  # it is active already


def test_an_install_without_activating_offers_activate(admin_client, celery_worker, tmp_path) -> None:
    name = f"p{uuid.uuid4().hex[:8]}"
    job = _finished(_post(admin_client, source=str(plugin_folder(tmp_path, name=name))).pk)
    assert job.state == InstallJob.State.SUCCEEDED, job.log + job.error
    assert Plugin.objects.get(name=name).active_version is None
    url = reverse("admin:plugins_plugin_install_job", args=[job.pk])
    assert 'name="activate"' in admin_client.get(url).content.decode()
    admin_client.post(url, {"activate": "Activate"})
    assert Plugin.objects.get(name=name).active_version_id == job.version_id


def test_a_failed_install_names_its_step_on_the_job_page(admin_client, celery_worker, tmp_path) -> None:
    name = f"p{uuid.uuid4().hex[:8]}"
    folder = plugin_folder(tmp_path, name=name, body="raise RuntimeError('broken on purpose')\n")
    job = _finished(_post(admin_client, source=str(folder), activate="on").pk)
    assert (job.state, job.step) == (InstallJob.State.FAILED, "check")
    assert job.version is not None
    assert job.version.build_state == BuildState.FAILED
    page = admin_client.get(reverse("admin:plugins_plugin_install_job", args=[job.pk])).content.decode()
    assert "broken on purpose" in page
    assert "check:" in page
    version_page = admin_client.get(reverse("admin:plugins_pluginversion_change", args=[job.version_id]))
    assert "broken on purpose" in version_page.content.decode()


def test_the_install_list_links_each_job_page(admin_client, db) -> None:
    job = InstallJob.objects.create(source="/somewhere", state=InstallJob.State.FAILED, step="check", error="boom")
    page = admin_client.get(reverse("admin:plugins_installjob_changelist")).content.decode()
    assert reverse("admin:plugins_plugin_install_job", args=[job.pk]) in page
    detail = admin_client.get(reverse("admin:plugins_plugin_install_job", args=[job.pk])).content.decode()
    assert "boom" in detail
    assert 'http-equiv="refresh"' not in detail
