"""source_fetch from git: real repositories made by the test, cloned with real git."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from plugins.sources.fetch import Fetched, git_cache_prune, shorten, source_fetch
from plugins.sources.spec import Source, SourceError, source_parse
from plugins.sources.unpack import FetchLimits

IDENTITY = ["-c", "user.name=Test", "-c", "user.email=test@example.invalid", "-c", "init.defaultBranch=main"]


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", *IDENTITY, "-C", str(repo), *args], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def commit(repo: Path, files: dict[str, str], message: str = "change") -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "origin"
    path.mkdir()
    git(path, "init", "-q")
    commit(path, {"echo/__init__.py": "VERSION = 1\n", "README": "one\n"}, "first")
    git(path, "tag", "v1")
    return path


class Steps:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, step: str, line: str) -> None:
        self.lines.append((step, line))

    @property
    def steps(self) -> set[str]:
        return {step for step, _ in self.lines}


def tree_of(fetched: Fetched) -> Path:
    assert fetched.tree is not None
    return fetched.tree


def fetch(source: Source, tmp_path: Path, name: str, **kwargs) -> Fetched:
    kwargs.setdefault("cache", tmp_path / "cache")
    return source_fetch(source, into=tmp_path / name, progress=kwargs.pop("progress", Steps()), **kwargs)


def test_it_checks_out_a_tag_and_records_its_commit(repo, tmp_path) -> None:
    tagged = git(repo, "rev-parse", "v1")
    commit(repo, {"echo/__init__.py": "VERSION = 2\n"}, "second")
    progress = Steps()
    fetched = fetch(source_parse(str(repo), ref="v1"), tmp_path, "tree", progress=progress)
    assert fetched == Fetched(tree=tmp_path / "tree", resolved=tagged)
    assert (tree_of(fetched) / "echo" / "__init__.py").read_text() == "VERSION = 1\n"
    assert not (tree_of(fetched) / ".git").exists()
    assert {"clone", "unpack"} <= progress.steps


def test_without_a_ref_it_takes_the_default_branch(repo, tmp_path) -> None:
    head = commit(repo, {"README": "two\n"})
    fetched = fetch(Source("git", repo.as_uri()), tmp_path, "tree")
    assert fetched.resolved == head
    assert (tmp_path / "tree" / "README").read_text() == "two\n"


@pytest.mark.parametrize("length", [40, 7])
def test_a_commit_ref_resolves_to_the_full_commit(repo, tmp_path, length) -> None:
    first = git(repo, "rev-parse", "HEAD")
    commit(repo, {"README": "two\n"})
    fetched = fetch(Source("git", str(repo), first[:length]), tmp_path, "tree")
    assert fetched.resolved == first
    assert (tmp_path / "tree" / "README").read_text() == "one\n"


def test_a_moved_branch_resolves_to_its_new_commit_and_an_unchanged_one_to_the_same(repo, tmp_path) -> None:
    git(repo, "branch", "feature/x")
    source = Source("git", str(repo), "feature/x")
    first = fetch(source, tmp_path, "a")
    mirrors = [p for p in (tmp_path / "cache").iterdir() if p.suffix == ".git"]
    inode = mirrors[0].stat().st_ino
    assert fetch(source, tmp_path, "b").resolved == first.resolved
    git(repo, "checkout", "-q", "feature/x")
    moved = commit(repo, {"README": "moved\n"})
    third = fetch(source, tmp_path, "c")
    assert third.resolved == moved != first.resolved
    assert (tmp_path / "c" / "README").read_text() == "moved\n"
    # The cache kept its one clone and brought it up to date rather than cloning again.
    assert [p for p in (tmp_path / "cache").iterdir() if p.suffix == ".git"] == mirrors
    assert mirrors[0].stat().st_ino == inode


def test_a_moved_tag_is_followed(repo, tmp_path) -> None:
    fetch(Source("git", str(repo), "v1"), tmp_path, "a")
    moved = commit(repo, {"README": "retagged\n"})
    git(repo, "tag", "-f", "v1")
    assert fetch(Source("git", str(repo), "v1"), tmp_path, "b").resolved == moved


def test_without_a_cache_it_clones_into_a_temporary_one(repo, tmp_path) -> None:
    fetched = source_fetch(Source("git", str(repo), "v1"), into=tmp_path / "tree", progress=Steps())
    assert fetched.resolved == git(repo, "rev-parse", "v1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["origin", "tree"]


def test_an_unknown_ref_says_so(repo, tmp_path) -> None:
    with pytest.raises(SourceError, match=r"^the repository has no ref 'nope' \(no such tag, branch or commit\)$"):
        fetch(Source("git", str(repo), "nope"), tmp_path, "tree")


def test_a_failed_clone_gives_gits_own_message_on_one_line(tmp_path) -> None:
    with pytest.raises(SourceError) as caught:
        fetch(Source("git", (tmp_path / "none").as_uri()), tmp_path, "tree")
    message = str(caught.value)
    assert message.startswith("git clone failed: fatal: ")
    assert "does not appear to be a git repository" in message or "not found" in message
    assert "\n" not in message


def test_it_refuses_a_link_in_the_repository_that_leads_out(repo, tmp_path) -> None:
    os.symlink("../../../etc/passwd", repo / "leak")
    commit(repo, {})
    with pytest.raises(
        SourceError, match=r"^repository entry 'leak' links out of the folder \(\.\./\.\./\.\./etc/passwd\): refused$"
    ):
        fetch(Source("git", str(repo)), tmp_path, "tree")


def test_it_runs_no_hooks(repo, tmp_path, monkeypatch) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    marker = tmp_path / "hook-ran"
    for name in ("reference-transaction", "post-checkout", "post-merge"):
        hook = hooks / name
        hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
        hook.chmod(0o755)
    config = tmp_path / "gitconfig"
    config.write_text(f"[core]\n\thooksPath = {hooks}\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    git(repo, "tag", "v2")  # the hook is live: it runs for the test's own git
    assert marker.exists()
    marker.unlink()
    fetch(Source("git", str(repo), "v1"), tmp_path, "a")
    fetch(Source("git", str(repo), "v2"), tmp_path, "b")
    assert not marker.exists()


def test_a_remote_that_does_not_answer_is_given_up_after_the_time_limit(tmp_path) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True).start()
    port = server.getsockname()[1]
    try:
        with pytest.raises(SourceError, match=r"^git clone took longer than 1 s$"):
            fetch(Source("git", f"git://127.0.0.1:{port}/bot"), tmp_path, "tree", limits=FetchLimits(timeout_seconds=1))
    finally:
        for conn in accepted:
            conn.close()
        server.close()


def test_a_repository_with_too_many_files_is_refused(repo, tmp_path) -> None:
    commit(repo, {f"f{i}": "" for i in range(5)})
    with pytest.raises(SourceError, match=r"^the repository has more than 6 files: refused$"):
        fetch(Source("git", str(repo)), tmp_path, "tree", limits=FetchLimits(max_files=6))


def test_clones_unused_for_long_are_pruned_and_recent_ones_kept(repo, tmp_path) -> None:
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(repo), str(other)], check=True)
    fetch(Source("git", str(repo)), tmp_path, "a")
    fetch(Source("git", str(other)), tmp_path, "b")
    cache = tmp_path / "cache"
    old_lock, new_lock = sorted(cache.glob("*.lock"), key=lambda p: p.name)
    os.utime(old_lock, (1000.0, 1000.0))
    os.utime(new_lock, (5000.0, 5000.0))
    assert git_cache_prune(cache, unused_seconds=2000, now=5500.0) == [old_lock.with_suffix(".git")]
    assert sorted(p.name for p in cache.iterdir()) == [new_lock.with_suffix(".git").name, new_lock.name]
    # A fetch of a pruned repository clones it again.
    assert fetch(Source("git", str(repo)), tmp_path, "c").resolved == git(repo, "rev-parse", "HEAD")


def test_into_must_be_empty(repo, tmp_path) -> None:
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "x").write_text("")
    with pytest.raises(SourceError, match="is not empty"):
        fetch(Source("git", str(repo)), tmp_path, "tree")


def test_an_index_source_has_no_tree_here(tmp_path) -> None:
    assert fetch(Source("index", "echo==1"), tmp_path, "tree") == Fetched(tree=None, resolved="")


@pytest.mark.parametrize(
    ("text", "short"),
    [
        ("hint: a\nfatal: repository 'x' not found\nhint: b", "fatal: repository 'x' not found"),
        ("Cloning into 'x'...\r\nerror: one\nfatal: two\n", "error: one fatal: two"),
        ("just this\n\n", "just this"),
        ("x" * 500, "x" * 399 + "…"),
    ],
)
def test_a_tools_message_is_shortened_to_its_errors(text, short) -> None:
    assert shorten(text) == short
