"""Background installs (the admin's "Install a plugin" page): a job row, a Celery task,
progress in the job's log, and a job whose worker stopped shown as failed.

The install itself is ``plugins.install.plugin_install``, the path of the CLI too.
"""

from __future__ import annotations

import logging
import shutil
import threading
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q, TextField, Value
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from plugins.install import install_activate, plugin_install
from plugins.installplan import InstallError
from plugins.models import InstallJob, PluginVersion

log = logging.getLogger(__name__)


def install_job_start(*, source: str, ref: str = "", upload: str = "", activate: bool = True) -> InstallJob:
    """Record an install job and run it in the background once this transaction commits."""
    job = InstallJob.objects.create(source=source, ref=ref, upload=upload, activate=activate)

    def enqueue() -> None:
        from plugins.tasks import install_job_run_task

        install_job_run_task.delay(job.pk)

    transaction.on_commit(enqueue)
    return job


def _job_log(job_id: int, step: str, line: str) -> None:
    InstallJob.objects.filter(pk=job_id).update(
        step=step[:32], log=Concat(F("log"), Value(f"[{step}] {line}\n"), output_field=TextField())
    )


def _upload_remove(path: Path) -> None:
    """Remove an uploaded archive (and the folder it was stored in) once its job ran."""
    uploads = (Path(settings.DATA_DIR) / "uploads").resolve()
    folder = path.resolve().parent
    if folder.parent == uploads:
        shutil.rmtree(folder, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _alive_every() -> float:
    return float(settings.PLUGIN_INSTALL_STALE_SECONDS) / 6


class _Alive:
    """While a job runs, write its ``alive_at`` on a thread of its own every sixth of the
    stale bound: a build that prints nothing for minutes is still seen to be alive."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"install-job-{job_id}", daemon=True)

    def __enter__(self) -> _Alive:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            while not self._stop.wait(_alive_every()):
                try:
                    running = InstallJob.objects.filter(pk=self.job_id, state=InstallJob.State.RUNNING)
                    running.update(alive_at=timezone.now())
                except DatabaseError:
                    log.warning("could not record that install job %s is alive", self.job_id, exc_info=True)
        finally:
            connection.close()


def install_jobs_lost_fail(*, now: datetime | None = None) -> int:
    """Fail the running jobs whose worker stopped; return how many.

    A worker killed mid-install (SIGKILL, out of memory, the machine lost, Celery's hard
    time limit) leaves its job ``running``, and its task is not run again: the job is only
    claimed while ``queued``, and Redis hands a task out once. Only the job's row can tell:
    its worker writes ``alive_at`` every sixth of ``PLUGIN_INSTALL_STALE_SECONDS`` from a
    thread of its own, however long a step is silent, so a job not written for that long
    has no worker any more. Called where jobs are shown, so none shows "running" for ever.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=float(settings.PLUGIN_INSTALL_STALE_SECONDS))
    reason = _("the worker running this install stopped; start it again")
    lost = InstallJob.objects.filter(state=InstallJob.State.RUNNING).filter(
        Q(alive_at__lt=cutoff) | Q(alive_at__isnull=True, created_at__lt=cutoff)
    )
    return lost.update(
        state=InstallJob.State.FAILED,
        error=reason,
        log=Concat(F("log"), Value(_("[stopped] %(reason)s") % {"reason": reason} + "\n"), output_field=TextField()),
        finished_at=now,
    )


def install_job_run(*, job_id: int) -> None:
    """Run a queued install job; its state, step, log, error and version tell the outcome."""
    queued = InstallJob.objects.filter(pk=job_id, state=InstallJob.State.QUEUED)
    if not queued.update(state=InstallJob.State.RUNNING, alive_at=timezone.now()):
        install_jobs_lost_fail()  # delivered again after its worker died: say so now
        return  # already run (a task delivered twice)
    job = InstallJob.objects.get(pk=job_id)
    with _Alive(job_id):
        _job_run(job)


def _job_run(job: InstallJob) -> None:
    """Install what the job names; its row records each step and the outcome."""
    job_id = job.pk

    def progress(step: str, line: str) -> None:
        log.info("install job %s %s: %s", job_id, step, line)
        _job_log(job_id, step, line)

    try:
        version = plugin_install(
            source=job.source,
            ref=job.ref,
            upload=Path(job.upload) if job.upload else None,
            activate=job.activate,
            progress=progress,
        )
    except InstallError as exc:
        progress(exc.step, exc.message)
        failed = exc.version
        InstallJob.objects.filter(pk=job_id).update(
            state=InstallJob.State.FAILED,
            step=exc.step[:32],
            error=str(exc),
            version=failed,
            name=failed.plugin.name if failed else "",
            finished_at=timezone.now(),
        )
        return
    except Exception as exc:  # a bug: the job must not stay "running" for ever
        log.exception("install job %s failed", job_id)
        InstallJob.objects.filter(pk=job_id).update(
            state=InstallJob.State.FAILED, error=f"{type(exc).__name__}: {exc}", finished_at=timezone.now()
        )
        raise
    finally:
        if job.upload:
            _upload_remove(Path(job.upload))
    InstallJob.objects.filter(pk=job_id).update(
        state=InstallJob.State.SUCCEEDED,
        error="",
        version=version,
        name=version.plugin.name,
        finished_at=timezone.now(),
    )


def install_job_activate(*, job: InstallJob) -> str:
    """Activate the version a succeeded job installed (it was installed without activating)."""
    if job.version_id is None or job.state != InstallJob.State.SUCCEEDED:
        raise InstallError("activate", _("This install has no version to activate."))
    version = PluginVersion.objects.select_related("plugin").get(pk=job.version_id)
    lines: list[str] = []
    install_activate(version=version, progress=lambda _step, line: lines.append(line))
    return lines[-1]
