"""Archives kept in the database, for the machines that did not install them.

An archive uploaded in the admin, or given as a file of the installing machine, cannot be
fetched again anywhere else, so its bytes go into the database (one row per SHA-256, the
digest the version records as ``resolved``), which every worker reaches. Provisioning
(``plugins.provision``) writes it back to a file and unpacks it as the install did. An
archive from an ``https://`` URL is downloaded again instead. The cap is the admin's upload
limit: a larger local archive still installs, but only on the machine that installed it.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from plugins.models import PluginArchive
from plugins.sources.unpack import file_sha256, size_text

log = logging.getLogger(__name__)

ARCHIVE_MAX_BYTES = 64 * 1024 * 1024  # also the admin's upload limit


def archive_keep(*, path: Path) -> str:
    """Keep the archive at ``path`` for the other machines; return its SHA-256.

    An archive over ARCHIVE_MAX_BYTES is not kept (logged): only this machine can run it.
    """
    sha256 = file_sha256(path)
    size = path.stat().st_size
    if size > ARCHIVE_MAX_BYTES:
        log.warning(
            "archive %s (%s) is larger than %s: not kept for other machines, which cannot set it up",
            path.name,
            size_text(size),
            size_text(ARCHIVE_MAX_BYTES),
        )
        return sha256
    if not PluginArchive.objects.filter(sha256=sha256).exists():
        PluginArchive.objects.get_or_create(
            sha256=sha256, defaults={"name": path.name, "size": size, "data": path.read_bytes()}
        )
    return sha256


def archive_restore(*, sha256: str, into: Path) -> Path | None:
    """Write the kept archive of ``sha256`` under ``into`` by its file name; None if none is kept."""
    row = PluginArchive.objects.filter(sha256=sha256).only("name", "data").first()
    if row is None:
        return None
    into.mkdir(parents=True, exist_ok=True)
    path = into / Path(row.name).name
    path.write_bytes(bytes(row.data))
    return path


def archives_clean(*, keep: Collection[str], grace_seconds: float) -> int:
    """Remove the kept archives no version refers to (``keep``: their SHA-256), once older than
    ``grace_seconds`` (an install in progress keeps its archive before its version is written)."""
    cutoff = timezone.now() - timedelta(seconds=grace_seconds)
    removed, _by_model = PluginArchive.objects.filter(created_at__lt=cutoff).exclude(sha256__in=list(keep)).delete()
    return removed
