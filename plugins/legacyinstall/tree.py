"""Pin an older-bot plugin's whole tree, its data folders leading into its own data folder.

No Django. The older bot's plugins keep their state under their package
(``os.path.dirname(__file__) + "/data"``), inside a tree that here is pinned read-only.
In the snapshot each such folder (``<tree>/data`` and ``<tree>/<module>/data``) is a
symbolic link to ``/proc/self/cwd/data``: the host's working folder is always the plugin's
own data folder, confined or not, so the path resolves there in every host of the plugin,
including the throwaway folder of a code check. What the tree shipped in those folders is
kept under ``.seed/data`` and copied into the data folder when missing
(``plugins.legacy.adapter``).

Layout: ``<store>/<plugin>/<digest>/<module>/…`` (the tree) and ``…/<digest>/.seed/``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from plugins.legacy.adapter import SEEDS
from plugins.sandbox.snapshot import Snapshot, SnapshotError, files_read, snapshot_write, tree_files

DATA_LINK = "/proc/self/cwd/data"


def _data_folders(module: str, tree: Path) -> tuple[str, ...]:
    """Where the plugin's package keeps its data: beside a flat module, or in its folder."""
    folders = [f"{module}/data"]
    if (tree / module).is_dir():
        folders.append(f"{module}/{module}/data")
    return tuple(folders)


def legacy_snapshot_take(*, plugin: str, module: str, tree: Path, store: Path) -> Snapshot:
    """Pin the tree of ``module`` (the older bot's plugin folder) for plugin ``plugin``."""
    try:
        digest, contents = files_read(tree_files(source=tree, top=module))
    except OSError as exc:
        raise SnapshotError(f"cannot read the plugin's tree {tree}: {exc.strerror or exc}") from None
    folders = _data_folders(module, tree)
    placed = []
    for rel, data in contents:
        home = next((f for f in folders if rel.startswith(f + "/")), None)
        placed.append((rel if home is None else f"{SEEDS}/data/{rel.removeprefix(home + '/')}", data))
    # Another layout from the same files: another digest than a plugin of the new kind.
    pinned = hashlib.sha256(b"legacy\0" + digest.encode()).hexdigest()
    links = dict.fromkeys(folders, DATA_LINK)
    return snapshot_write(store=store, plugin=plugin, digest=pinned, contents=placed, links=links)
