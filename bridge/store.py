"""What the bridge keeps on disk: the poll cursor, the refs it has already sent and its
instance ID (which bridge this is, for the broker's one-bridge-per-bot lease).

Writes are atomic (temporary file, fsync, rename) or appends of one fsynced line, so a
crash leaves either the old state or the new one, never a torn file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import secrets
import time
from pathlib import Path

from bridge.account import Prepared

MAX_REFS = 20_000
# On a first start, messages sent this long before it still count as new.
FIRST_START_GRACE_MS = 60_000


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _clean(ref: str) -> str:
    return ref.replace("\t", " ").replace("\n", " ").replace("\r", " ")


class BridgeStore:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._cursor_path = self.dir / "cursor.json"
        self._refs_path = self.dir / "sent-refs.log"
        self.instance = self._instance_load()
        self.recent: tuple[str, ...] = ()
        self.cursor, self.since_ms = self._cursor_load()
        self._refs = self._refs_load()
        self._prepared_dir = self.dir / "prepared"
        self._prepared_dir.mkdir(exist_ok=True)

    def _cursor_load(self) -> tuple[str, int]:
        try:
            data = json.loads(self._cursor_path.read_text(encoding="utf-8"))
            self.recent = tuple(str(h) for h in data.get("recent", ()))
            return str(data.get("cursor", "")), int(data["since_ms"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            # First start (or an unreadable file): do not replay the mailbox's old chats.
            since = int(time.time() * 1000) - FIRST_START_GRACE_MS
            _write_atomic(self._cursor_path, json.dumps({"cursor": "", "since_ms": since}))
            return "", since

    def _instance_load(self) -> str:
        """This bridge's ID, made once: a restart of it is the same bridge, a bridge with
        another state directory is another one."""
        path = self.dir / "instance"
        try:
            instance = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            instance = ""
        if not (0 < len(instance) <= 64 and instance.isascii() and instance.isalnum()):
            instance = secrets.token_hex(16)
            _write_atomic(path, instance + "\n")
        return instance

    def cursor_save(self, cursor: str, recent: tuple[str, ...] = ()) -> None:
        """Persist the cursor and the latest settled hashes (skipped if the mailbox is replayed)."""
        self.cursor, self.recent = cursor, recent
        data = {"cursor": cursor, "since_ms": self.since_ms, "recent": list(recent)}
        _write_atomic(self._cursor_path, json.dumps(data))

    def _refs_load(self) -> dict[str, tuple[str, int]]:
        refs: dict[str, tuple[str, int]] = {}
        try:
            lines = self._refs_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return refs
        for line in lines:
            parts = line.split("\t")
            if len(parts) == 3 and parts[2].isdigit():  # a torn last line is skipped
                refs[parts[0]] = (parts[1], int(parts[2]))
        return self._refs_trimmed(refs) if len(refs) > MAX_REFS else refs

    def _refs_trimmed(self, refs: dict[str, tuple[str, int]]) -> dict[str, tuple[str, int]]:
        """Keep the latest ``MAX_REFS`` refs, in memory and on disk."""
        kept = dict(list(refs.items())[-MAX_REFS:])
        _write_atomic(self._refs_path, "".join(f"{r}\t{h}\t{t}\n" for r, (h, t) in kept.items()))
        return kept

    def sent_get(self, ref: str) -> tuple[str, int] | None:
        return self._refs.get(_clean(ref))

    def sent_put(self, ref: str, msg_hash: str, timestamp: int) -> None:
        clean = _clean(ref)
        with open(self._refs_path, "a", encoding="utf-8") as handle:
            handle.write(f"{clean}\t{msg_hash}\t{timestamp}\n")
            handle.flush()
            os.fsync(handle.fileno())
        self._refs[clean] = (msg_hash, timestamp)
        if len(self._refs) >= 2 * MAX_REFS:  # a long-running bridge: trimmed as it goes, not only at start
            self._refs = self._refs_trimmed(self._refs)

    # A send's encrypted bytes are kept until it is confirmed, so that a retry (even after a
    # crash) stores exactly the same message and the storage server keeps one copy.

    def _prepared_path(self, ref: str) -> Path:
        return self._prepared_dir / (hashlib.sha256(ref.encode()).hexdigest() + ".json")

    def prepared_get(self, ref: str) -> Prepared | None:
        try:
            return Prepared(**json.loads(self._prepared_path(ref).read_text(encoding="utf-8")))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def prepared_put(self, ref: str, prepared: Prepared) -> None:
        _write_atomic(self._prepared_path(ref), json.dumps(dataclasses.asdict(prepared)))

    def prepared_drop(self, ref: str) -> None:
        self._prepared_path(ref).unlink(missing_ok=True)
