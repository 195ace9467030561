"""source_parse: one line of text classified as git, archive, folder or index.

Table tests of the pure core, with the file system given as a table of paths; a few
tests at the end use real folders.
"""

from __future__ import annotations

import os

import pytest

from plugins.sources.spec import Source, SourceError, local_kind, source_parse, source_text, source_upload

PATHS = {
    "/srv/repo": "repo",
    "/srv/plain": "folder",
    "/srv/dist/echo-1.0-py3-none-any.whl": "file",
    "/srv/dist/echo-1.0.tar.gz": "file",
    "/srv/notes.txt": "file",
    "/srv/at@name": "folder",
    "/srv/with space": "folder",
    "/srv/repo@odd": "folder",
    "/srv/a@b": "repo",
}


SHA = "0123456789abcdef0123456789abcdef01234567"


def fake(path: str):
    return PATHS.get(path, "")


def parse(text: str, **kwargs) -> Source:
    return source_parse(text, local=fake, **kwargs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://github.com/owner/repo", Source("git", "https://github.com/owner/repo")),
        ("https://github.com/owner/repo.git", Source("git", "https://github.com/owner/repo.git")),
        ("  https://github.com/owner/repo  ", Source("git", "https://github.com/owner/repo")),
        ("https://github.com/owner/repo@v1.2.0", Source("git", "https://github.com/owner/repo", "v1.2.0")),
        ("https://github.com/owner/repo@feature/x", Source("git", "https://github.com/owner/repo", "feature/x")),
        ("https://host:8443/o/r@main", Source("git", "https://host:8443/o/r", "main")),
        ("git+https://github.com/owner/repo@v1", Source("git", "https://github.com/owner/repo", "v1")),
        ("http://git.lan/o/r", Source("git", "http://git.lan/o/r")),
        ("ssh://git@gitlab.example/team/bot.git", Source("git", "ssh://git@gitlab.example/team/bot.git")),
        ("ssh://git@gitlab.example/team/bot@abc1234", Source("git", "ssh://git@gitlab.example/team/bot", "abc1234")),
        ("git://git.lan/bot", Source("git", "git://git.lan/bot")),
        ("git@github.com:owner/repo.git", Source("git", "git@github.com:owner/repo.git")),
        ("git@github.com:owner/repo.git@v2", Source("git", "git@github.com:owner/repo.git", "v2")),
        ("file:///srv/repo", Source("git", "file:///srv/repo")),
        ("file:///srv/repo@main", Source("git", "file:///srv/repo", "main")),
        ("/srv/repo", Source("git", "/srv/repo")),
        ("/srv/repo@v1", Source("git", "/srv/repo", "v1")),
        ("/srv/repo/", Source("git", "/srv/repo")),
        ("/srv/plain", Source("folder", "/srv/plain")),
        ("/srv/at@name", Source("folder", "/srv/at@name")),
        ("/srv/repo@odd", Source("folder", "/srv/repo@odd")),
        ("/srv/a@b", Source("git", "/srv/a@b")),
        ("/srv/a@b@v1", Source("git", "/srv/a@b", "v1")),
        ("file://localhost/srv/repo", Source("git", "file://localhost/srv/repo")),
        ("http://files.example/echo.zip?x=1", Source("archive", "http://files.example/echo.zip?x=1")),
        ("/srv/with space", Source("folder", "/srv/with space")),
        ("/srv/dist/echo-1.0-py3-none-any.whl", Source("archive", "/srv/dist/echo-1.0-py3-none-any.whl")),
        ("/srv/dist/echo-1.0.tar.gz", Source("archive", "/srv/dist/echo-1.0.tar.gz")),
        ("https://files.example/echo-1.0.tar.gz", Source("archive", "https://files.example/echo-1.0.tar.gz")),
        ("https://files.example/echo.TGZ", Source("archive", "https://files.example/echo.TGZ")),
        ("https://files.example/echo.tar", Source("archive", "https://files.example/echo.tar")),
        ("https://files.example/echo.zip?token=1", Source("archive", "https://files.example/echo.zip?token=1")),
        ("file:///srv/dist/echo-1.0.zip", Source("archive", "file:///srv/dist/echo-1.0.zip")),
        ("echo==1.2", Source("index", "echo==1.2")),
        ("echo", Source("index", "echo")),
        ("Echo_Bot >= 1.0, < 2", Source("index", "Echo_Bot<2,>=1.0")),
        ("echo[llm]==1.2", Source("index", "echo[llm]==1.2")),
        (
            "echo==1.2 --index-url https://pypi.lan/simple",
            Source("index", "echo==1.2", index="https://pypi.lan/simple"),
        ),
        ("echo==1.2 -i https://pypi.lan/simple", Source("index", "echo==1.2", index="https://pypi.lan/simple")),
        (
            "echo==1.2 --index-url=https://pypi.lan/simple",
            Source("index", "echo==1.2", index="https://pypi.lan/simple"),
        ),
        ("echo @ git+https://github.com/o/echo@v3", Source("git", "https://github.com/o/echo", "v3")),
        ("echo @ https://files.example/echo-1.0.whl", Source("archive", "https://files.example/echo-1.0.whl")),
    ],
)
def test_it_classifies_each_form(text, expected) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "ref", "index", "expected"),
    [
        ("https://github.com/o/r", "v1", "", Source("git", "https://github.com/o/r", "v1")),
        ("https://github.com/o/r@v1", "v1", "", Source("git", "https://github.com/o/r", "v1")),
        ("/srv/repo", " main ", "", Source("git", "/srv/repo", "main")),
        ("git@h.example:o/r", "0123456789abcdef" * 2 + "01234567", "", Source("git", "git@h.example:o/r", SHA)),
        ("echo==1", "", "https://pypi.lan/simple", Source("index", "echo==1", index="https://pypi.lan/simple")),
        ("echo==1", "", "http://pypi.lan/simple", Source("index", "echo==1", index="http://pypi.lan/simple")),
        ("echo==1", "", "file:///srv/simple", Source("index", "echo==1", index="file:///srv/simple")),
        ("echo @ git+https://h.example/o/r", "v1", "", Source("git", "https://h.example/o/r", "v1")),
        (
            "echo==1 -i https://pypi.lan/simple",
            "",
            "https://pypi.lan/simple",
            Source("index", "echo==1", index="https://pypi.lan/simple"),
        ),
    ],
)
def test_a_ref_or_index_given_beside_the_text_is_taken(text, ref, index, expected) -> None:
    assert parse(text, ref=ref, index=index) == expected


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("", {}, "the source is empty"),
        ("   ", {}, "the source is empty"),
        ("ftp://host/x", {}, "'ftp://host/x': ftp:// is not a source (use https, ssh, git or file)"),
        (
            "ext::sh -c touch% /tmp/x",
            {},
            "'ext::sh -c touch% /tmp/x' is not a source: give a git URL, an archive, a folder or a requirement"
            " such as name==1.2",
        ),
        ("https:///o/r", {}, "'https:///o/r' names no host"),
        ("https://h.example:99999/o/r", {}, "'https://h.example:99999/o/r': the port is not a number from 0 to 65535"),
        ("https://h.example:x/o/r", {}, "'https://h.example:x/o/r': the port is not a number from 0 to 65535"),
        ("ssh://-oProxyCommand=x/o/r", {}, "'ssh://-oProxyCommand=x/o/r': a host name cannot start with -"),
        (
            "https://user:pw@github.com/o/r",
            {},
            "'https://user:pw@github.com/o/r' carries credentials: give them to git (a credential helper),"
            " not in the URL",
        ),
        (
            "https://token@github.com/o/r",
            {},
            "'https://token@github.com/o/r' carries credentials: give them to git (a credential helper),"
            " not in the URL",
        ),
        (
            "ssh://git:pw@host/o/r",
            {},
            "'ssh://git:pw@host/o/r' carries credentials: give them to git (a credential helper), not in the URL",
        ),
        (
            "file://otherhost/srv/repo",
            {},
            "'file://otherhost/srv/repo': a file:// URL names a path on this machine (file:///path)",
        ),
        ("https://github.com/o/r?x=1", {}, "'https://github.com/o/r?x=1': a repository URL has no ?query or #fragment"),
        (
            "https://github.com/o/r#main",
            {},
            "'https://github.com/o/r#main': a repository URL has no ?query or #fragment",
        ),
        ("https://github.com/o/r@", {}, "'https://github.com/o/r@' ends with @ but names no ref"),
        (
            "https://github.com/o/../evil/r",
            {},
            "'https://github.com/o/../evil/r': write the path without . or .. segments",
        ),
        (
            "https://github.com/o/%2e%2e/evil/r",
            {},
            "'https://github.com/o/%2e%2e/evil/r': write the path without . or .. segments",
        ),
        ("git@github.com:o/../../r", {}, "'git@github.com:o/../../r': write the path without . or .. segments"),
        ("https://github.com/o/r@-oUpload", {}, "'-oUpload' is not a git tag, branch or commit"),
        ("https://github.com/o/r", {"ref": "--upload-pack=x"}, "'--upload-pack=x' is not a git tag, branch or commit"),
        ("https://github.com/o/r", {"ref": "a..b"}, "'a..b' is not a git tag, branch or commit"),
        ("https://github.com/o/r", {"ref": "main.lock"}, "'main.lock' is not a git tag, branch or commit"),
        ("https://github.com/o/r", {"ref": "main/"}, "'main/' is not a git tag, branch or commit"),
        ("https://github.com/o/r", {"ref": "a b"}, "'a b' is not a git tag, branch or commit"),
        ("https://github.com/o/r", {"ref": "HEAD@{1}"}, "'HEAD@{1}' is not a git tag, branch or commit"),
        (
            "https://github.com/o/r@v1",
            {"ref": "v2"},
            "'https://github.com/o/r@v1' names ref 'v1', but the ref given is 'v2'",
        ),
        (
            "https://files.example/e-1.whl",
            {"ref": "v1"},
            "'https://files.example/e-1.whl' is an archive: a ref applies to git repositories only",
        ),
        (
            "https://github.com/o/r",
            {"index": "https://pypi.lan/simple"},
            "'https://github.com/o/r' is a URL: an index applies to requirements only",
        ),
        (
            "git@h.example:o/r",
            {"index": "https://pypi.lan/simple"},
            "'git@h.example:o/r' is a git repository: an index applies to requirements only",
        ),
        (
            "/srv/plain",
            {"index": "https://pypi.lan/simple"},
            "'/srv/plain' is on this machine: an index applies to requirements only",
        ),
        ("/srv/plain", {"ref": "v1"}, "'/srv/plain' is not a git repository: a ref applies to git repositories only"),
        ("/srv/notes.txt", {}, "'/srv/notes.txt' is a file but not an archive (.whl, .tar.gz, .tgz, .tar, .zip)"),
        ("/srv/missing", {}, "'/srv/missing': no such folder or file"),
        ("./missing", {}, "'./missing': no such folder or file"),
        ("~/missing", {}, "'~/missing': no such folder or file"),
        (
            "echo==",
            {},
            "'echo==' is not a source: give a git URL, an archive, a folder or a requirement such as name==1.2",
        ),
        ("echo==1", {"ref": "v1"}, "'echo==1' is a requirement: a ref applies to git repositories only"),
        ("echo==1", {"index": "pypi.lan"}, "'pypi.lan' is not an index URL such as https://pypi.org/simple"),
        (
            "echo==1",
            {"index": "https://u:p@pypi.lan/simple"},
            "'https://u:p@pypi.lan/simple' carries credentials: configure them for the installer, not in the URL",
        ),
        (
            "echo==1 -i https://a.lan/simple",
            {"index": "https://b.lan/simple"},
            "'echo==1 -i https://a.lan/simple' names index 'https://a.lan/simple', but the index given is 'https://b.lan/simple'",
        ),
        (
            "echo @ https://files.example/e.whl -i https://a.lan/s",
            {},
            "'echo @ https://files.example/e.whl' names its URL: an index does not apply",
        ),
        ("https://github.com/o/./r", {}, "'https://github.com/o/./r': write the path without . or .. segments"),
        ("file:///srv/x/../repo", {}, "'file:///srv/x/../repo': write the path without . or .. segments"),
        (
            "http://user@h.example/o/r",
            {},
            "'http://user@h.example/o/r' carries credentials: give them to git (a credential helper), not in the URL",
        ),
        ("file:///srv/dist/e.zip?x=1", {}, "'file:///srv/dist/e.zip?x=1': a file:// URL has no ?query or #fragment"),
        ("git@-evil.example:o/r", {}, "'git@-evil.example:o/r': a host name cannot start with -"),
        ("git@h.example:o/r@", {}, "'git@h.example:o/r@' ends with @ but names no ref"),
        ("git@h.example:o/r@v1", {"ref": "v2"}, "'git@h.example:o/r@v1' names ref 'v1', but the ref given is 'v2'"),
        (".", {}, "'.': no such folder or file"),
        ("..", {}, "'..': no such folder or file"),
        (
            "echo==1",
            {"index": "ftp://pypi.lan/simple"},
            "'ftp://pypi.lan/simple' is not an index URL such as https://pypi.org/simple",
        ),
        (
            "echo==1",
            {"index": "https:///simple"},
            "'https:///simple' is not an index URL such as https://pypi.org/simple",
        ),
        (
            "echo @ https://files.example/e.whl",
            {"ref": "v1"},
            "'https://files.example/e.whl' is an archive: a ref applies to git repositories only",
        ),
        ("~a@h.example:o/r", {}, "'~a@h.example:o/r': no such folder or file"),
        ("../missing", {}, "'../missing': no such folder or file"),
        ("/srv/repo@v1", {"ref": "v2"}, "'/srv/repo@v1' names ref 'v1', but the ref given is 'v2'"),
    ],
)
def test_it_refuses_what_is_not_a_source_and_says_why(text, kwargs, message) -> None:
    with pytest.raises(SourceError) as caught:
        parse(text, **kwargs)
    assert str(caught.value) == message


def test_a_relative_path_is_made_absolute(tmp_path, monkeypatch) -> None:
    (tmp_path / "plug").mkdir()
    monkeypatch.chdir(tmp_path)
    assert source_parse("./plug") == Source("folder", str(tmp_path / "plug"))
    assert source_parse("plug") == Source("folder", str(tmp_path / "plug"))


def test_the_file_system_decides_between_repository_folder_and_file(tmp_path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "plain").mkdir()
    (tmp_path / "e.zip").write_bytes(b"")
    assert [local_kind(str(tmp_path / n)) for n in ("repo", "plain", "e.zip", "none")] == ["repo", "folder", "file", ""]
    assert source_parse(str(tmp_path / "repo") + "@v1") == Source("git", str(tmp_path / "repo"), "v1")
    assert source_parse(str(tmp_path / "e.zip")).kind == "archive"


def test_a_local_source_is_local_and_a_remote_one_is_not() -> None:
    assert [parse(t).local for t in ("/srv/repo", "/srv/plain", "file:///srv/repo", "/srv/dist/echo-1.0.tar.gz")] == [
        True
    ] * 4
    remote = ("https://h.example/o/r", "git@h.example:o/r", "echo==1", "https://h.example/e.whl")
    assert [parse(t).local for t in remote] == [False] * 4


def test_an_upload_is_an_archive_marked_as_uploaded(tmp_path) -> None:
    assert source_upload(str(tmp_path / "e-1.0.whl")) == Source("archive", str(tmp_path / "e-1.0.whl"), upload=True)
    with pytest.raises(SourceError) as caught:
        source_upload(str(tmp_path / "notes.txt"))
    assert str(caught.value) == "'notes.txt' is not an archive (.whl, .tar.gz, .tgz, .tar, .zip)"


def test_a_relative_upload_path_is_made_absolute(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert source_upload("e.zip").location == os.path.join(str(tmp_path), "e.zip")


@pytest.mark.parametrize(
    "source",
    [
        Source("git", "https://github.com/o/r", "v1"),
        Source("git", "git@h.example:o/r.git", "feature/x"),
        Source("git", "/srv/repo"),
        Source("git", "/srv/a@b", "v1"),
        Source("folder", "/srv/with space"),
        Source("archive", "https://files.example/e.zip?token=1"),
        Source("index", "echo==1.2"),
        Source("index", "echo<2,>=1", index="https://pypi.lan/simple"),
    ],
)
def test_a_source_written_as_text_reads_back_the_same(source) -> None:
    assert parse(source_text(source), ref=source.ref) == source
