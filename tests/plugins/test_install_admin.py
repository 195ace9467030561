"""The admin's "Install a plugin" page: a job that a real Celery worker runs, its log and Activate."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from plugins.execution import pool_close
from plugins.installjobs import install_job_run, install_jobs_lost_fail
from plugins.models import BuildState, InstallJob, Plugin
from tests.conftest import ROOT, process_stop, wait_for, worker_env
from tests.plugins.legacy.trees import older_plugin
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
    assert not Plugin.objects.filter(name=name, active_version__isnull=False).exists()
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


SLOW_SETUP = """
import sys
import time

from setuptools import setup

print("building slowly", flush=True)
time.sleep({seconds})
setup(name="{name}", version="1.0.0", packages=["{package}"])
"""


def _descendants(pid: int) -> list[int]:
    """The processes ``pid`` started, and theirs (its build steps)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


@pytest.fixture
def short_lived_worker(transactional_db: None, settings) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker that says it is alive every half second (a stale bound of 3 s)."""
    settings.PLUGIN_INSTALL_STALE_SECONDS = 3
    env = {**worker_env(), "PLUGIN_INSTALL_STALE_SECONDS": "3"}
    argv = [sys.executable, "-m", "celery", "-A", "sessionbot", "worker", "--pool=solo", "--loglevel=WARNING"]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env)
    try:
        yield proc
    finally:
        process_stop(proc, timeout=15)


def test_an_install_whose_worker_died_shows_as_failed_with_the_reason(
    admin_client, short_lived_worker, tmp_path
) -> None:
    name = f"p{uuid.uuid4().hex[:8]}"
    folder = plugin_folder(tmp_path, name=name)
    package = f"pkg_{name}"
    (folder / "setup.py").write_text(SLOW_SETUP.format(seconds=40, name=name, package=package))
    job = _post(admin_client, source=str(folder), activate="on")
    url = reverse("admin:plugins_plugin_install_job", args=[job.pk])
    assert wait_for(lambda: "building slowly" in InstallJob.objects.get(pk=job.pk).log, timeout=60)
    # Its build prints nothing more for 40 s: longer than the stale bound, still alive.
    time.sleep(4)
    page = admin_client.get(url).content.decode()
    assert InstallJob.objects.get(pk=job.pk).state == InstallJob.State.RUNNING
    assert 'http-equiv="refresh"' in page
    # The worker is killed mid-install, with the build it runs.
    doomed = [short_lived_worker.pid, *_descendants(short_lived_worker.pid)]
    for pid in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    short_lived_worker.wait()
    reason = "the worker running this install stopped; start it again"
    assert wait_for(lambda: reason in admin_client.get(url).content.decode(), timeout=10)
    job.refresh_from_db()
    assert (job.state, job.error, job.step) == (InstallJob.State.FAILED, reason, "build")
    assert job.finished_at is not None
    page = admin_client.get(url).content.decode()
    assert 'http-equiv="refresh"' not in page
    assert "failed" in admin_client.get(reverse("admin:plugins_installjob_changelist")).content.decode()
    assert not Plugin.objects.filter(name=name, active_version__isnull=False).exists()


def test_only_running_jobs_not_heard_from_for_the_stale_bound_are_failed(db, settings) -> None:
    settings.PLUGIN_INSTALL_STALE_SECONDS = 60
    now = timezone.now()
    old, recent = now - timedelta(seconds=61), now - timedelta(seconds=59)
    jobs = {
        "lost": InstallJob.objects.create(source="/a", state=InstallJob.State.RUNNING, alive_at=old),
        "alive": InstallJob.objects.create(source="/b", state=InstallJob.State.RUNNING, alive_at=recent),
        "queued": InstallJob.objects.create(source="/c", state=InstallJob.State.QUEUED),
        "done": InstallJob.objects.create(source="/d", state=InstallJob.State.SUCCEEDED, alive_at=old),
    }
    InstallJob.objects.filter(pk=jobs["queued"].pk).update(created_at=old)
    assert install_jobs_lost_fail(now=now) == 1
    states = {key: InstallJob.objects.get(pk=job.pk).state for key, job in jobs.items()}
    assert states == {"lost": "failed", "alive": "running", "queued": "queued", "done": "succeeded"}


def test_a_task_delivered_again_after_its_worker_died_fails_its_job(db, settings) -> None:
    settings.PLUGIN_INSTALL_STALE_SECONDS = 60
    job = InstallJob.objects.create(source="/a", state=InstallJob.State.RUNNING)
    InstallJob.objects.filter(pk=job.pk).update(alive_at=timezone.now() - timedelta(minutes=5))
    install_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.state, job.error) == ("failed", "the worker running this install stopped; start it again")
    assert "[stopped] the worker running this install stopped" in job.log


def test_a_pasted_folder_of_an_older_bots_plugin_installs_and_serves(admin_client, celery_worker, tmp_path) -> None:
    tree = older_plugin(tmp_path / "src", "parrot")
    job = _finished(_post(admin_client, source=str(tree), activate="on").pk)
    assert job.state == InstallJob.State.SUCCEEDED, job.log + job.error
    assert job.name == "parrot"
    assert "reading parrot as an older bot's plugin" in job.log
    version = Plugin.objects.get(name="parrot").active_version
    assert version is not None
    assert version.api == "legacy"
    assert list(version.commands.values_list("prefix", "name")) == [("!", "echo")]
