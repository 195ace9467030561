"""The files of received attachments: ``DATA_DIR/attachments/<sha256>``, shared by digest.

One file serves every message that carried the same bytes, so a file is deleted only when
no message or invocation that keeps its content still names it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.db.models import Q

from broker.models import InboundMessage
from plugins.models import Invocation

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
# A message's file is on disk before its row commits, and a file already there is only
# touched: a file this recent may belong to a row not committed yet, so it is not deleted.
FILE_GRACE_SECONDS = 600.0


def attachments_folder() -> Path:
    return Path(settings.DATA_DIR) / "attachments"


def attachment_digests(*, lists: Iterable[object]) -> set[str]:
    """The sha256 digests named by attachment metadata lists (as the models store them)."""
    found: set[str] = set()
    for items in lists:
        for item in items if isinstance(items, list) else ():
            digest = item.get("sha256") if isinstance(item, dict) else None
            if isinstance(digest, str) and _DIGEST.match(digest):
                found.add(digest)
    return found


def attachment_in_use(*, digest: str, inbound_leaving: Q | None = None, invocations_leaving: Q | None = None) -> bool:
    """Whether a row other than those ``*_leaving`` match still names file ``digest``."""
    inbound = InboundMessage.objects.filter(attachments__icontains=digest)
    invocations = Invocation.objects.filter(attachments__icontains=digest)
    if inbound_leaving is not None:
        inbound = inbound.exclude(inbound_leaving)
    if invocations_leaving is not None:
        invocations = invocations.exclude(invocations_leaving)
    return inbound.exists() or invocations.exists()


def attachment_files_delete(
    *, digests: Iterable[str], inbound_leaving: Q | None = None, invocations_leaving: Q | None = None
) -> int:
    """Delete the files of ``digests`` that no row but those leaving names; return how many."""
    folder = attachments_folder()
    recent = time.time() - FILE_GRACE_SECONDS
    deleted = 0
    for digest in sorted(set(digests)):
        if not _DIGEST.match(digest) or not (folder / digest).exists():
            continue
        if (folder / digest).stat().st_mtime > recent:
            continue  # left to the retention purge
        if attachment_in_use(digest=digest, inbound_leaving=inbound_leaving, invocations_leaving=invocations_leaving):
            continue
        (folder / digest).unlink(missing_ok=True)
        deleted += 1
    return deleted


def attachment_files_orphaned(*, older_than: float, limit: int) -> list[str]:
    """Up to ``limit`` digests of files last written before ``older_than`` (a Unix time)
    that no row names any more: their messages' content was erased."""
    folder = attachments_folder()
    if not folder.is_dir():
        return []
    found: list[str] = []
    older_than = min(older_than, time.time() - FILE_GRACE_SECONDS)
    for path in sorted(folder.iterdir()):
        if len(found) >= limit:
            break
        if not _DIGEST.match(path.name) or path.stat().st_mtime >= older_than:
            continue
        if not attachment_in_use(digest=path.name):
            found.append(path.name)
    return found
