"""source_fetch of archives and folders: real wheels, sdists, zips and tars, some hostile."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plugins.sources.fetch import Fetched, source_fetch
from plugins.sources.spec import Source, SourceError
from plugins.sources.unpack import FetchLimits, archive_unpack

MANIFEST = "name: echo\nversion: '1.0'\nentrypoint: echo.plugin:Echo\n"


def noop(step: str, line: str) -> None:
    pass


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_zip(path: Path, files: dict[str, str], links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16) | 0x20
            archive.writestr(info, target)
    return path


def make_tar(path: Path, entries: list[tarfile.TarInfo | tuple[str, str]]) -> Path:
    with tarfile.open(path, "w:gz" if path.name.endswith("gz") else "w") as tar:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
            else:
                name, text = entry
                data = text.encode()
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o755 if name.endswith(".sh") else 0o644
                tar.addfile(info, io.BytesIO(data))
    return path


def member(name: str, kind: bytes, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def tree_of(fetched: Fetched) -> Path:
    assert fetched.tree is not None
    return fetched.tree


def fetch(path: Path, tmp_path: Path, **kwargs) -> Fetched:
    return source_fetch(Source("archive", str(path)), into=tmp_path / "out", progress=noop, **kwargs)


def test_a_wheel_is_kept_and_unpacked_and_resolves_to_its_sha256(tmp_path) -> None:
    wheel = make_zip(
        tmp_path / "echo-1.0-py3-none-any.whl",
        {"echo/__init__.py": "", "echo/sessionbot-plugin.yaml": MANIFEST, "echo-1.0.dist-info/METADATA": "Name: echo"},
    )
    fetched = fetch(wheel, tmp_path)
    out = tmp_path / "out"
    assert fetched == Fetched(tree=out / "tree", resolved=sha256(wheel), archive=out / wheel.name)
    assert (out / wheel.name).read_bytes() == wheel.read_bytes()
    assert (out / "tree" / "echo" / "sessionbot-plugin.yaml").read_text() == MANIFEST


def test_a_zip_of_one_package_is_unpacked_as_it_is(tmp_path) -> None:
    archive = make_zip(tmp_path / "echo.zip", {"echo/__init__.py": "", "echo/echo.py": ""})
    assert fetch(archive, tmp_path).tree == tmp_path / "out" / "tree"


def test_an_sdist_tree_is_its_one_top_folder_with_modes_kept(tmp_path) -> None:
    sdist = make_tar(tmp_path / "echo-1.0.tar.gz", [("echo-1.0/setup.py", "x"), ("echo-1.0/run.sh", "#!/bin/sh")])
    fetched = fetch(sdist, tmp_path)
    assert fetched.tree == tmp_path / "out" / "tree" / "echo-1.0"
    assert fetched.resolved == sha256(sdist)
    assert os.access(tree_of(fetched) / "run.sh", os.X_OK)
    assert not os.access(tree_of(fetched) / "setup.py", os.X_OK)


def test_a_file_url_archive_is_read_from_this_machine(tmp_path) -> None:
    archive = make_zip(tmp_path / "echo.zip", {"echo/__init__.py": "A = 1"})
    fetched = source_fetch(Source("archive", archive.as_uri()), into=tmp_path / "out", progress=noop)
    assert (tree_of(fetched) / "echo" / "__init__.py").read_text() == "A = 1"


def test_a_link_inside_the_archive_is_kept(tmp_path) -> None:
    archive = make_zip(tmp_path / "e.zip", {"pkg/data/a.txt": "a", "top.txt": "t"}, {"pkg/b.txt": "data/a.txt"})
    fetched = fetch(archive, tmp_path)
    assert (tree_of(fetched) / "pkg" / "b.txt").read_text() == "a"


HOSTILE_TARS: dict[str, tuple[list[tarfile.TarInfo | tuple[str, str]], str]] = {
    "dotdot": ([("../escaped", "x")], "entry '../escaped' leads out of the folder (..)"),
    "deep-dotdot": ([("a/../../escaped", "x")], "leads out of the folder (..)"),
    "absolute": ([("/tmp/escaped-abs", "x")], "entry '/tmp/escaped-abs' has an absolute path"),
    "link-out": ([member("ln", tarfile.SYMTYPE, "../../escaped")], "entry 'ln' links out of the folder"),
    "link-absolute": ([member("ln", tarfile.SYMTYPE, "/etc")], "entry 'ln' links to an absolute path (/etc)"),
    "hard-link": ([("a", "x"), member("b", tarfile.LNKTYPE, "a")], "entry 'b' is a hard link"),
    "device": ([member("dev", tarfile.CHRTYPE)], "entry 'dev' is a device or a pipe"),
    "fifo": ([member("fifo", tarfile.FIFOTYPE)], "entry 'fifo' is a device or a pipe"),
    # Each link stays inside on its own; followed together, t leads above the folder.
    "link-chain": (
        [member("d", tarfile.DIRTYPE), member("d/s", tarfile.SYMTYPE, ".."), member("d/t", tarfile.SYMTYPE, "s/..")],
        "entry 'd/t' links out of the folder (s/..)",
    ),
    "through-link": (
        [
            member("d", tarfile.DIRTYPE),
            member("d/s", tarfile.SYMTYPE, ".."),
            member("d/t", tarfile.SYMTYPE, "s/.."),
            member("d/u", tarfile.SYMTYPE, "t/.."),
            ("d/u/escaped", "x"),
        ],
        "entry 'd/u/escaped' is written through a link",
    ),
    "twice": ([member("ln", tarfile.SYMTYPE, "a"), ("ln", "x")], "entry 'ln' is written twice"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_TARS))
def test_it_refuses_a_hostile_tar_and_writes_nothing_outside(tmp_path, case) -> None:
    entries, message = HOSTILE_TARS[case]
    archive = make_tar(tmp_path / "evil.tar", entries)
    with pytest.raises(SourceError) as caught:
        fetch(archive, tmp_path)
    assert message in str(caught.value)
    assert str(caught.value).endswith(": refused")
    assert not (tmp_path / "escaped").exists()
    assert not Path("/tmp/escaped-abs").exists()
    # What was unpacked before the refusal is removed with the folder it went into.
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("files", "links", "message"),
    [
        ({"../escaped": "x"}, {}, "entry '../escaped' leads out of the folder (..)"),
        ({"/tmp/escaped-abs": "x"}, {}, "entry '/tmp/escaped-abs' has an absolute path"),
        ({"..\\escaped": "x"}, {}, "leads out of the folder (..)"),
        ({"C:/escaped": "x"}, {}, "has an absolute path"),
        ({}, {"ln": "../escaped"}, "entry 'ln' links out of the folder (../escaped)"),
        ({}, {"ln": "/etc/passwd"}, "entry 'ln' links to an absolute path (/etc/passwd)"),
    ],
)
def test_it_refuses_a_hostile_zip(tmp_path, files, links, message) -> None:
    archive = make_zip(tmp_path / "evil.whl", files, links)
    with pytest.raises(SourceError) as caught:
        fetch(archive, tmp_path)
    assert message in str(caught.value)
    assert not (tmp_path / "escaped").exists()


def test_it_refuses_an_archive_that_unpacks_too_large(tmp_path) -> None:
    archive = make_zip(tmp_path / "big.zip", {"a": "x" * 600, "b": "x" * 600})
    with pytest.raises(SourceError, match=r"^the archive unpacks to more than 1000 bytes: refused$"):
        fetch(archive, tmp_path, limits=FetchLimits(max_bytes=1000))
    # Within the limit, the same archive is fine.
    assert fetch(archive, tmp_path / "again", limits=FetchLimits(max_bytes=1200)).tree is not None


def test_it_refuses_an_archive_file_larger_than_the_limit(tmp_path) -> None:
    archive = make_tar(tmp_path / "big.tar", [("a", "x" * 5000)])
    with pytest.raises(SourceError, match=r"^big\.tar is larger than"):
        fetch(archive, tmp_path, limits=FetchLimits(max_bytes=4000))


def test_it_refuses_an_archive_with_too_many_files(tmp_path) -> None:
    archive = make_zip(tmp_path / "many.zip", {f"f{i}": "" for i in range(4)})
    with pytest.raises(SourceError, match=r"^the archive has more than 3 files: refused$"):
        fetch(archive, tmp_path, limits=FetchLimits(max_files=3))
    assert fetch(archive, tmp_path / "again", limits=FetchLimits(max_files=4)).tree is not None


def test_a_broken_archive_says_so(tmp_path) -> None:
    (tmp_path / "broken.zip").write_bytes(b"not a zip")
    (tmp_path / "broken.tar.gz").write_bytes(b"not a tar")
    with pytest.raises(SourceError, match=r"^broken\.zip is not a readable zip archive"):
        fetch(tmp_path / "broken.zip", tmp_path)
    with pytest.raises(SourceError, match=r"^broken\.tar\.gz is not a readable tar archive"):
        source_fetch(Source("archive", str(tmp_path / "broken.tar.gz")), into=tmp_path / "o2", progress=noop)


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:
        pass


def test_an_archive_damaged_inside_says_so(tmp_path) -> None:
    good = make_tar(tmp_path / "e.tar.gz", [(f"f{i}", os.urandom(20000).hex()) for i in range(3)])
    data = bytearray(good.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 8] = b"\xff" * 8
    (tmp_path / "damaged.tar.gz").write_bytes(bytes(data))
    with pytest.raises(SourceError, match=r"^damaged\.tar\.gz is not a readable tar archive"):
        fetch(tmp_path / "damaged.tar.gz", tmp_path)


@pytest.mark.parametrize("suffix", ["tar.gz", "tar.bz2", "tar.xz"])
def test_a_compressed_tar_that_expands_too_far_is_refused_before_it_is_unpacked(tmp_path, suffix) -> None:
    path = tmp_path / f"bomb.{suffix}"
    mode: Any = f"w:{suffix.rsplit('.', 1)[1]}"
    with tarfile.open(path, mode) as tar:
        info = tarfile.TarInfo("zeros")
        info.size = 4 * 1024 * 1024
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    assert path.stat().st_size < 64 * 1024
    with pytest.raises(SourceError, match=r"^the archive unpacks to more than 1 MB: refused$"):
        archive_unpack(path, into=tmp_path / "out", limits=FetchLimits(max_bytes=1024 * 1024))
    assert not (tmp_path / "out" / "zeros").exists()


def test_an_encrypted_zip_entry_says_so(tmp_path) -> None:
    archive = make_zip(tmp_path / "locked.zip", {"a.py": "x"})
    data = bytearray(archive.read_bytes())
    # Set the "encrypted" flag of the entry in the local header and the central directory.
    for signature in (b"PK\x03\x04", b"PK\x01\x02"):
        at = data.index(signature) + (6 if signature == b"PK\x03\x04" else 8)
        data[at] |= 1
    archive.write_bytes(bytes(data))
    with pytest.raises(SourceError, match=r"^locked\.zip is not a readable zip archive"):
        fetch(archive, tmp_path)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def test_it_downloads_an_archive_with_progress(tmp_path, served) -> None:
    base, root = served
    wheel = make_zip(root / "echo-1.0-py3-none-any.whl", {"echo/__init__.py": "B = 2"})
    steps: list[tuple[str, str]] = []
    fetched = source_fetch(
        Source("archive", f"{base}/echo-1.0-py3-none-any.whl"),
        into=tmp_path / "out",
        progress=lambda s, line: steps.append((s, line)),
    )
    assert fetched.resolved == sha256(wheel)
    assert (tmp_path / "out" / "tree" / "echo" / "__init__.py").read_text() == "B = 2"
    assert {s for s, _ in steps} == {"download", "unpack"}


def test_a_download_larger_than_the_limit_is_stopped(tmp_path, served) -> None:
    base, root = served
    make_tar(root / "big.tar", [("a", "x" * 5000)])
    with pytest.raises(SourceError, match=r"big\.tar is larger than"):
        source_fetch(
            Source("archive", f"{base}/big.tar"),
            into=tmp_path / "out",
            progress=noop,
            limits=FetchLimits(max_bytes=2000),
        )


def test_a_missing_download_gives_the_http_status(tmp_path, served) -> None:
    base, _ = served
    with pytest.raises(SourceError, match=r"^download of .*/none\.whl failed: HTTP 404"):
        source_fetch(Source("archive", f"{base}/none.whl"), into=tmp_path / "out", progress=noop)


def make_folder(path: Path) -> Path:
    (path / "echo" / "__pycache__").mkdir(parents=True)
    (path / ".git").mkdir()
    (path / ".git" / "HEAD").write_text("ref")
    (path / "echo" / "__init__.py").write_text("C = 3")
    (path / "echo" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (path / "echo" / "stale.pyc").write_bytes(b"\0")
    (path / "sessionbot-plugin.yaml").write_text(MANIFEST)
    return path


def copy(folder: Path, into: Path, **kwargs) -> Fetched:
    return source_fetch(Source("folder", str(folder)), into=into, progress=noop, **kwargs)


def test_a_folder_is_copied_without_caches_and_resolves_to_a_content_digest(tmp_path) -> None:
    folder = make_folder(tmp_path / "plug")
    fetched = copy(folder, tmp_path / "a")
    files = sorted(str(p.relative_to(tmp_path / "a")) for p in (tmp_path / "a").rglob("*"))
    assert files == ["echo", "echo/__init__.py", "sessionbot-plugin.yaml"]
    assert fetched.tree == tmp_path / "a"
    assert len(fetched.resolved) == 64
    # The same files give the same digest; a change to a byte, a name or a mode does not.
    assert copy(folder, tmp_path / "b").resolved == fetched.resolved
    (folder / "echo" / "__init__.py").write_text("C = 4")
    changed = copy(folder, tmp_path / "c").resolved
    assert changed != fetched.resolved
    (folder / "echo" / "__init__.py").chmod(0o755)
    moded = copy(folder, tmp_path / "d").resolved
    assert moded not in (fetched.resolved, changed)
    (folder / "echo" / "__init__.py").rename(folder / "echo" / "main.py")
    assert copy(folder, tmp_path / "e").resolved not in (fetched.resolved, changed, moded)


def test_a_folder_with_a_link_leading_out_is_refused(tmp_path) -> None:
    folder = make_folder(tmp_path / "plug")
    os.symlink("/etc/passwd", folder / "echo" / "secret")
    with pytest.raises(SourceError, match=r"folder entry 'echo/secret' links out of the folder"):
        copy(folder, tmp_path / "out")


def test_a_refused_fetch_leaves_a_given_empty_folder_empty(tmp_path) -> None:
    archive = make_tar(tmp_path / "evil.tar", [("ok", "x"), ("../escaped", "x")])
    (tmp_path / "out").mkdir()
    with pytest.raises(SourceError):
        fetch(archive, tmp_path)
    assert list((tmp_path / "out").iterdir()) == []


def test_a_folder_larger_than_the_limit_is_refused(tmp_path) -> None:
    folder = make_folder(tmp_path / "plug")
    (folder / "big").write_bytes(b"x" * 3000)
    with pytest.raises(SourceError, match=r"^the folder unpacks to more than"):
        copy(folder, tmp_path / "out", limits=FetchLimits(max_bytes=2000))
