"""Whatever a tar holds, unpacking writes nothing outside its folder (a property test)."""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from plugins.sources.spec import SourceError
from plugins.sources.unpack import FetchLimits, archive_unpack

SEGMENTS = st.sampled_from(["a", "b", "..", ".", ""])
# Mostly a few short names, so that entries meet (a link, then a file or a link through it).
NAMES = st.sampled_from(["a", "b", "a/b", "a/a", "b/a", "a/b/a"]) | st.one_of(
    st.lists(SEGMENTS, min_size=1, max_size=3).map("/".join), st.sampled_from(["/abs", "/a/b", "//x"])
)
# Link targets that stay inside on their own but may lead out when followed through another link.
TARGETS = st.sampled_from(["..", ".", "a", "b", "a/..", "b/..", "../a", "a/../..", "/abs"]) | NAMES
ENTRIES = st.lists(
    st.tuples(st.sampled_from(["file", "dir", "link", "link"]), NAMES, TARGETS),
    min_size=1,
    max_size=8,
)


def build(path: Path, entries: list[tuple[str, str, str]]) -> None:
    with tarfile.open(path, "w") as tar:
        for kind, name, target in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = 1
                tar.addfile(info, io.BytesIO(b"x"))
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.type, info.linkname = tarfile.SYMTYPE, target
                tar.addfile(info)


def everything(root: Path) -> set[str]:
    found: set[str] = set()
    for folder, dirs, names in os.walk(root):
        found.update(str(Path(folder, n).relative_to(root)) for n in dirs + names)
    return found


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=ENTRIES)
# Two links that each stay inside, one followed through the other (too rare to be drawn).
@example(entries=[("link", "a/b", ".."), ("link", "a/a", "b/..")])
@example(entries=[("link", "a/b", ".."), ("link", "a/a", "b/.."), ("link", "a/c", "a/.."), ("file", "a/c/x", "")])
def test_nothing_is_written_outside_and_every_link_stays_inside(entries) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        outer = Path(tmp) / "outer"
        root = outer / "level" / "tree"
        root.mkdir(parents=True)
        archive = Path(tmp) / "a.tar"
        build(archive, entries)
        try:
            archive_unpack(archive, into=root, limits=FetchLimits(max_files=50), single_top=False)
        except SourceError:
            pass
        else:
            inside = root.resolve()
            for link in (p for p in root.rglob("*") if p.is_symlink()):
                assert Path(os.path.realpath(link)).is_relative_to(inside), (link, os.readlink(link))
        assert everything(outer) - {"level", "level/tree"} == {f"level/tree/{p}" for p in everything(root)}
        assert sorted(p.name for p in Path(tmp).iterdir()) == ["a.tar", "outer"]
