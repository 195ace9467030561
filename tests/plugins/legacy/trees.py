"""Plugins written as for the older bot, made by the tests: a tree per plugin, as its git repository held it."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import textwrap
import zipfile
from pathlib import Path

INTERFACES = """
from abc import ABC, abstractmethod


class IObserver(ABC):
    @abstractmethod
    async def notify(self, msg, to, attachments): ...

    @abstractmethod
    def prefix(self): ...


class IObservable(ABC):
    @abstractmethod
    def subscribe(self, observer): ...

    @abstractmethod
    def unsubscribe(self, observer): ...

    @abstractmethod
    async def notify(self, msg, to, attachments): ...


class IPlugin(ABC):
    @abstractmethod
    def start(self): ...

    @abstractmethod
    async def stop(self): ...
"""

ECHO = '''
import os

from interfaces import IObservable, IObserver, IPlugin


class Echo(IObserver):
    """Repeat what you write."""

    def __init__(self, observable: IObservable = None):
        self.__observable = observable
        self.data_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
        os.makedirs(self.data_dir, exist_ok=True)

    async def notify(self, msg: str, to: str, attachments):
        await self.__observable.notify(msg, to, attachments)

    def prefix(self):
        return "!echo"


class Plugin(IPlugin):
    def __init__(self, observable: IObservable):
        self.__observable = observable
        self.echo = Echo(self.__observable)

    def start(self):
        self.__observable.subscribe(self.echo)

    async def stop(self):
        self.__observable.unsubscribe(self.echo)
'''

SETUP = """
from setuptools import setup

setup(
    name="{package}",
    version={version},
    packages=[],
    install_requires={requires!r},
)
"""


def older_plugin(
    parent: Path,
    name: str = "echo",
    *,
    module: str = ECHO,
    version: str = '"0.1.0"',
    requires: tuple[str, ...] = (),
    extra: dict[str, str] | None = None,
) -> Path:
    """Write ``<parent>/<name>/`` as the older bot's plugins looked: setup.py, ``<name>/<name>.py``
    (no ``__init__.py``) and its sibling ``interfaces.py``. Returns the tree."""
    tree = parent / name
    package = tree / name
    package.mkdir(parents=True)
    (tree / "setup.py").write_text(SETUP.format(package=f"{name}-plugin", version=version, requires=list(requires)))
    (package / f"{name}.py").write_text(textwrap.dedent(module))
    (package / "interfaces.py").write_text(INTERFACES)
    for rel, text in (extra or {}).items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(textwrap.dedent(text))
    return tree


def _git(tree: Path, *args: str) -> None:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t"}
    env |= {"GIT_COMMITTER_EMAIL": "t@example.org", "PATH": "/usr/bin:/bin", "HOME": str(tree)}
    subprocess.run(["git", *args], cwd=tree, env=env, check=True)


def git_commit(tree: Path) -> None:
    """Commit everything in ``tree`` on its branch."""
    _git(tree, "add", "-A")
    _git(tree, "commit", "-q", "-m", "A change")


def git_repository(tree: Path) -> str:
    """Make ``tree`` a git repository with one commit; return its ``file://`` URL."""
    _git(tree, "init", "-q", "-b", "main")
    git_commit(tree)
    return f"file://{tree}"


def plugins_yaml(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def wheel_write(folder: Path, *, name: str, version: str, files: dict[str, str]) -> Path:
    """A pure-Python wheel of ``name`` ``version`` holding ``files`` (path → text), in ``folder``."""
    stem = name.replace("-", "_")  # a wheel's file name escapes the distribution's name
    dist = f"{stem}-{version}.dist-info"
    payload = {
        **files,
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: sessionbot-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in payload.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    payload[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{stem}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in payload.items():
            archive.writestr(path, text)
    return wheel
