"""Test helpers: small local wheels, and plugin environments made from them with real uv."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import uv


def wheel_write(folder: Path, *, name: str, version: str, files: dict[str, str]) -> Path:
    """A pure-Python wheel of ``name`` ``version`` holding ``files`` (path → text)."""
    dist = f"{name}-{version}.dist-info"
    payload = {
        **files,
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: sessionbot-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in payload.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    payload[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in payload.items():
            archive.writestr(path, text)
    return wheel


def environment_make(env: Path, *, wheels: Path, requirements: list[str], cache: Path) -> Path:
    """A Python environment at ``env`` with ``requirements`` installed from ``wheels`` only
    (``uv venv`` + ``uv pip install``, no index); returns its interpreter."""
    tool = uv.find_uv_bin()
    run_env = {**os.environ, "UV_CACHE_DIR": str(cache), "UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never"}
    base = os.path.realpath(sys.executable)
    subprocess.run([tool, "venv", "-q", "--python", base, str(env)], check=True, env=run_env)
    python = env / "bin" / "python"
    offline = ["--no-index", "--find-links", str(wheels)]
    subprocess.run(
        [tool, "pip", "install", "-q", "--python", str(python), *offline, *requirements],
        check=True,
        env=run_env,
    )
    return python


def sdist_write(folder: Path, *, name: str, version: str, files: dict[str, str], setup_prelude: str = "") -> Path:
    """A setup.py sdist of ``name`` ``version`` holding ``files`` (path → text); installing
    it runs ``setup_prelude`` first, as the build of any sdist runs its own code."""
    root = f"{name}-{version}"
    payload = {
        **files,
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        "setup.py": setup_prelude
        + "from setuptools import setup\n"
        + f"setup(name={name!r}, version={version!r}, packages=[{name!r}])\n",
    }
    folder.mkdir(parents=True, exist_ok=True)
    sdist = folder / f"{root}.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        for path, text in payload.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{root}/{path}")
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return sdist
