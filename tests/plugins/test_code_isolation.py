"""Pinned code and private module sets (pure: no Django, no worker)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from plugins.sandbox.codeload import code_active, code_load
from plugins.sandbox.snapshot import SnapshotError, snapshot_take, snapshots_prune
from sessionbot.envcheck import EnvError, plugin_host_user_check

PLUGIN = """
from plugins.api import Context, Plugin, Reply, command
from samepkg.words import WORD


class Same(Plugin):
    @command("same")
    def same(self, ctx: Context) -> Reply:
        from samepkg import late  # imported on first use, from the same snapshot
        return Reply(WORD + late.SUFFIX)
"""


def write(root: Path, word: str) -> None:
    pkg = root / "samepkg"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "plugin.py").write_text(PLUGIN)
    (pkg / "words.py").write_text(f"WORD = {word!r}\n")
    (pkg / "late.py").write_text(f"SUFFIX = '-{word}'\n")


def take(root: Path, store: Path):
    return snapshot_take(plugin="same", entrypoint="samepkg.plugin:Same", roots=[root], store=store)


def test_the_same_code_gives_the_same_read_only_snapshot(tmp_path) -> None:
    write(tmp_path / "code", "one")
    first = take(tmp_path / "code", tmp_path / "store")
    (tmp_path / "code" / "samepkg" / "__pycache__").mkdir()
    (tmp_path / "code" / "samepkg" / "__pycache__" / "x.pyc").write_bytes(b"junk")
    assert take(tmp_path / "code", tmp_path / "store") == first
    words = first.root / "samepkg" / "words.py"
    assert words.read_text() == "WORD = 'one'\n"
    assert stat.S_IMODE(words.stat().st_mode) == 0o644
    assert not (first.root / "samepkg" / "__pycache__").exists()
    write(tmp_path / "code", "two")
    assert take(tmp_path / "code", tmp_path / "store").digest != first.digest


def test_a_link_out_of_the_package_is_not_pinned(tmp_path) -> None:
    write(tmp_path / "code", "one")
    (tmp_path / "secret").write_text("s3cret")
    os.symlink(tmp_path / "secret", tmp_path / "code" / "samepkg" / "stolen.txt")
    snap = take(tmp_path / "code", tmp_path / "store")
    assert not (snap.root / "samepkg" / "stolen.txt").exists()


def test_code_outside_the_roots_cannot_be_pinned(tmp_path) -> None:
    with pytest.raises(SnapshotError, match="not found in the plugin roots"):
        take(tmp_path / "empty", tmp_path / "store")


def test_two_versions_of_one_package_run_side_by_side_in_one_interpreter(tmp_path) -> None:
    write(tmp_path / "code", "one")
    one = code_load(entrypoint="samepkg.plugin:Same", root=take(tmp_path / "code", tmp_path / "store").root)
    write(tmp_path / "code", "two")
    two = code_load(entrypoint="samepkg.plugin:Same", root=take(tmp_path / "code", tmp_path / "store").root)
    answers = []
    for code in (one, two, one):
        with code_active(code):
            answers.append(getattr(code.cls(), "same")(None).text)  # noqa: B009 - defined by the snapshot
    assert answers == ["one-one", "two-two", "one-one"]


def test_only_snapshots_no_version_refers_to_are_pruned(tmp_path) -> None:
    write(tmp_path / "code", "one")
    old = take(tmp_path / "code", tmp_path / "store")
    write(tmp_path / "code", "two")
    new = take(tmp_path / "code", tmp_path / "store")
    assert snapshots_prune(store=tmp_path / "store", keep={("same", new.digest)}, grace_seconds=3600) == []
    assert snapshots_prune(store=tmp_path / "store", keep={("same", new.digest)}, grace_seconds=0) == [old.root]
    assert new.root.is_dir()


@pytest.mark.parametrize(
    ("raw", "root", "expected"),
    [("", False, "nobody"), ("", True, "nobody"), ("nobody", True, "nobody"), ("65534", True, "65534")],
)
def test_plugin_host_user_accepts_an_unprivileged_user(raw, root, expected) -> None:
    assert plugin_host_user_check(raw, root=root) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("root", "is root or in the root group"), ("0", "is root"), ("no-such-user-x", "is not a user on this machine")],
)
def test_plugin_host_user_refuses_root_and_unknown_users(raw, reason) -> None:
    with pytest.raises(EnvError, match=f"^PLUGIN_HOST_USER: .*{reason}"):
        plugin_host_user_check(raw, root=True)
