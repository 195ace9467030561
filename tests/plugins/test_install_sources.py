"""Installing from git repositories and with requirements: real git, real uv, local wheels only."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import textwrap
import uuid
import zipfile
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from plugins.environments.store import environment_size
from plugins.execution import pool_close
from plugins.install import plugin_install, plugin_upgrade
from plugins.installplan import InstallError
from plugins.models import BuildState, InstallJob, Plugin, PluginVersion
from plugins.sandbox.system import size_format
from tests.conftest import wait_for
from tests.plugins.conftest import ask, ask_worker
from tests.plugins.test_install import CODE, plugin_folder

pytestmark = pytest.mark.django_db

USES_LIBRARY = '''
import {lib}
from plugins.api import Context, Plugin, Reply, command


class Thing(Plugin):
    @command("{command}", summary="Say the library's version")
    def run(self, ctx: Context) -> Reply:
        """Answer with the version of the library it runs with."""
        return Reply("lib " + {lib}.VERSION)
'''


@pytest.fixture
def name() -> str:
    return f"p{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def _isolated(settings, monkeypatch):
    settings.PLUGIN_INDEX_URL = ""  # nothing from the network: the tests' own wheels only
    settings.PLUGIN_FIND_LINKS = []
    monkeypatch.setenv("PLUGIN_INDEX_URL", "")  # and in a worker this test starts
    yield
    pool_close()


def git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    done = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env)
    return done.stdout.strip()


def repository(tmp_path: Path, *, name: str, **kwargs: str) -> Path:
    """A git repository holding a plugin folder, committed on branch main."""
    folder = plugin_folder(tmp_path, name=name, **kwargs)
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "first")
    return folder


def commit(folder: Path, message: str) -> str:
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", message)
    return git(folder, "rev-parse", "HEAD")


def wheel(folder: Path, *, lib: str, version: str) -> Path:
    """A tiny pure-Python wheel of ``lib`` whose module says its own version."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{lib}-{version}-py3-none-any.whl"
    info = f"{lib}-{version}.dist-info"
    files = {
        f"{lib}/__init__.py": f'VERSION = "{version}"\n',
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {lib}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for file, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{file},sha256={digest},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    with zipfile.ZipFile(path, "w") as archive:
        for file, text in {**files, f"{info}/RECORD": "\n".join(record) + "\n"}.items():
            archive.writestr(file, text)
    path.chmod(0o644)
    folder.chmod(0o755)
    return path


def with_requirement(folder: Path, *, name: str, requirement: str, lib: str) -> None:
    package = folder / f"pkg_{name}"
    (package / "__init__.py").write_text(textwrap.dedent(USES_LIBRARY.format(lib=lib, command=name)))
    manifest = folder / "sessionbot-plugin.yaml"
    manifest.write_text(manifest.read_text() + f"requirements: ['{requirement}']\n")


def library_repository(tmp_path: Path, *, name: str) -> tuple[Path, Path]:
    """A repository whose plugin requires a library (version 1.5) by a direct reference to
    its local wheel; the repository and the wheel."""
    lib = f"sblib{uuid.uuid4().hex[:6]}"
    built = wheel(tmp_path / "wheels", lib=lib, version="1.5")
    repo = repository(tmp_path, name=name)
    with_requirement(repo, name=name, requirement=f"{lib} @ {built.as_uri()}", lib=lib)
    commit(repo, "needs the library")
    return repo, built


def test_a_git_repository_installs_at_its_commit_and_again_is_unchanged(tmp_path, name) -> None:
    repo = repository(tmp_path, name=name)
    head = git(repo, "rev-parse", "HEAD")
    steps: list[str] = []
    version = plugin_install(source=repo.as_uri(), progress=lambda step, _line: steps.append(step))
    assert (version.source_kind, version.resolved, version.source) == ("git", head, repo.as_uri())
    assert "clone" in steps
    assert ask(f"/{name}")[0] == "hello"
    again = plugin_install(source=repo.as_uri())
    assert again.pk == version.pk
    assert PluginVersion.objects.filter(plugin__name=name).count() == 1


def test_a_moved_branch_is_a_new_version_that_upgrade_installs(tmp_path, name) -> None:
    repo = repository(tmp_path, name=name)
    first = plugin_install(source=repo.as_uri(), ref="main")
    plugin_folder(tmp_path, name=name, answer="moved on")
    moved = commit(repo, "second")
    upgraded = plugin_upgrade(name=name)
    assert upgraded.pk != first.pk
    assert upgraded.resolved == moved
    assert upgraded.ref == "main"
    assert upgraded.version == f"1.0.0+{moved[:12]}"
    assert ask(f"/{name}")[0] == "moved on"


def test_a_tag_installs_the_code_it_names(tmp_path, name) -> None:
    repo = repository(tmp_path, name=name, answer="tagged")
    git(repo, "tag", "v1")
    plugin_folder(tmp_path, name=name, answer="later")
    commit(repo, "later")
    version = plugin_install(source=str(repo), ref="v1")
    assert version.resolved == git(repo, "rev-parse", "v1^{commit}")
    assert ask(f"/{name}")[0] == "tagged"


def test_a_ref_the_repository_lacks_fails_at_resolve(tmp_path, name) -> None:
    repo = repository(tmp_path, name=name)
    with pytest.raises(CommandError, match=r"step resolve: .*no-such-branch"):
        call_command("plugins", "install", repo.as_uri(), "--ref", "no-such-branch", stdout=StringIO())


def test_a_plugin_with_a_requirement_runs_in_its_own_environment(tmp_path, name, admin_client) -> None:
    repo, built = library_repository(tmp_path, name=name)
    steps: list[str] = []
    version = plugin_install(source=repo.as_uri(), progress=lambda step, _line: steps.append(step))
    assert version.environment
    assert "==1.5" not in version.pins  # a direct reference is pinned by its URL
    assert built.as_uri() in version.pins
    assert "--hash=sha256:" in version.pins
    assert "build" in steps
    assert ask(f"/{name}")[0] == "lib 1.5"
    page = admin_client.get(reverse("admin:plugins_pluginversion_change", args=[version.pk])).content.decode()
    assert built.as_uri() in page  # the pins
    assert size_format(environment_size(version.environment) or 0) in page


def test_a_failed_resolve_leaves_the_serving_version_serving(tmp_path, name) -> None:
    repo = repository(tmp_path, name=name)
    good = plugin_install(source=repo.as_uri())
    with_requirement(repo, name=name, requirement="sbnosuchlibrary==9.9", lib="sbnosuchlibrary")
    (repo / "sessionbot-plugin.yaml").write_text(
        (repo / "sessionbot-plugin.yaml").read_text().replace("version: '1.0.0'", "version: '2.0.0'")
    )
    commit(repo, "needs a library nobody has")
    with pytest.raises(InstallError) as caught:
        plugin_install(source=repo.as_uri())
    assert caught.value.step == "resolve"
    assert "sbnosuchlibrary" in caught.value.message
    failed = PluginVersion.objects.get(plugin__name=name, version="2.0.0")
    assert failed.build_state == BuildState.FAILED
    assert "resolve" in failed.build_error
    assert Plugin.objects.get(name=name).active_version_id == good.pk
    assert ask(f"/{name}")[0] == "hello"


def test_a_source_the_policy_refuses_names_the_rule(settings, name) -> None:
    settings.BOT_CONFIG = settings.BOT_CONFIG.model_copy(
        update={
            "plugin_sources": settings.BOT_CONFIG.plugin_sources.model_copy(
                update={"git": ("https://github.com/myorg",)}
            )
        }
    )
    with pytest.raises(CommandError, match=r"step source: plugin_sources\.git does not list"):
        call_command("plugins", "install", "https://gitlab.example/other/bot", stdout=StringIO())


def plugin_wheel(folder: Path, *, name: str, answer: str) -> Path:
    """A plugin published as a wheel: its package carries its sessionbot-plugin.yaml."""
    package = f"pkg_{name}"
    path = wheel(folder, lib=package, version="1.0")
    with zipfile.ZipFile(path) as archive:
        files = {n: archive.read(n) for n in archive.namelist() if not n.endswith("RECORD")}
    files[f"{package}/__init__.py"] = textwrap.dedent(CODE.format(command=name, answer=answer)).encode()
    files[f"{package}/sessionbot-plugin.yaml"] = (
        f"name: {name}\nversion: '1.0.0'\nentrypoint: {package}:Thing\n".encode()
    )
    info = f"{package}-1.0.dist-info"
    record = [
        f"{n},sha256={base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode()},{len(d)}"
        for n, d in files.items()
    ]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    with zipfile.ZipFile(path, "w") as archive:
        for n, d in files.items():
            archive.writestr(n, d)
    return path


def test_a_wheel_installs_with_its_manifest_from_inside_its_package(tmp_path, name) -> None:
    built = plugin_wheel(tmp_path / "dist", name=name, answer="from a wheel")
    version = plugin_install(source=str(built))
    assert version.source_kind == "archive"
    assert version.resolved == hashlib.sha256(built.read_bytes()).hexdigest()
    assert version.environment  # the wheel itself is installed into it
    assert ask(f"/{name}")[0] == "from a wheel"


def test_an_archive_uploaded_in_the_admin_installs_in_the_worker(admin_client, celery_worker, tmp_path, name) -> None:
    built = plugin_wheel(tmp_path / "dist", name=name, answer="uploaded")
    with built.open("rb") as upload:
        response = admin_client.post(reverse("admin:plugins_plugin_install"), {"archive": upload, "activate": "on"})
    assert response.status_code == 302
    job = InstallJob.objects.latest("created_at")
    assert wait_for(lambda: InstallJob.objects.get(pk=job.pk).state in ("succeeded", "failed"), timeout=90)
    job.refresh_from_db()
    assert job.state == "succeeded", job.log + job.error
    assert job.version is not None
    assert job.version.source == built.name
    assert not Path(job.upload).exists()  # the stored upload is removed once installed
    assert ask_worker(f"/{name}")[0] == "uploaded"


def test_an_upload_larger_than_the_limit_is_refused(admin_client, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr("plugins.installadmin.UPLOAD_MAX_BYTES", 10)
    built = wheel(tmp_path / "dist", lib="sbbig", version="1.0")
    with built.open("rb") as upload:
        page = admin_client.post(reverse("admin:plugins_plugin_install"), {"archive": upload}).content.decode()
    assert "larger than" in page
    assert not InstallJob.objects.exists()


@pytest.mark.parametrize("uploads", [True, False])
def test_the_install_page_offers_an_upload_when_the_policy_allows_it(admin_client, settings, uploads) -> None:
    sources = settings.BOT_CONFIG.plugin_sources.model_copy(update={"uploads": uploads})
    settings.BOT_CONFIG = settings.BOT_CONFIG.model_copy(update={"plugin_sources": sources})
    form = admin_client.get(reverse("admin:plugins_plugin_install")).content.decode()
    assert ('name="archive"' in form) is uploads


def test_the_cli_shows_the_clone_and_what_it_installed(tmp_path, name) -> None:
    repo = repository(tmp_path, name=name)
    out = StringIO()
    call_command("plugins", "install", repo.as_uri(), "--ref", "main", stdout=out)
    text = out.getvalue()
    assert "clone: " in text
    assert f"manifest: {name} 1.0.0" in text
    assert f"{name} 1.0.0 (git {git(repo, 'rev-parse', 'HEAD')[:12]})" in text
    out = StringIO()
    call_command("plugins", "install", repo.as_uri(), "--ref", "main", stdout=out)
    assert "unchanged" in out.getvalue()


def test_the_cli_shows_the_environments_steps(tmp_path, name) -> None:
    lib = f"sbinstall{uuid.uuid4().hex[:6]}"
    built = wheel(tmp_path / "wheels", lib=lib, version="2.0")
    repo = repository(tmp_path, name=name)
    with_requirement(repo, name=name, requirement=f"{lib} @ {built.as_uri()}", lib=lib)
    commit(repo, "needs the library")
    out = StringIO()
    call_command("plugins", "install", str(repo), stdout=out)
    steps = {line.split(":", 1)[0] for line in out.getvalue().splitlines()}
    assert {"clone", "manifest", "resolve", "build", "check", "activate"} <= steps, out.getvalue()
