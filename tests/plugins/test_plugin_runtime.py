"""The plugin runtime: the only part of the platform a plugin host imports (no Django)."""

from __future__ import annotations

import ast
import os
import shutil
import stat
import sys
import time
from pathlib import Path

from plugins.sandbox.runtime import (
    HOST_MODULES,
    SOURCE_ROOT,
    plugin_runtime,
    runtime_files,
    runtime_source,
    runtimes_prune,
)


def _module_name(file: str) -> str:
    return file.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """Every import in the file (functions and TYPE_CHECKING blocks too): (module, names)."""
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            found.append((str(node.module), [alias.name for alias in node.names]))
    return found


def test_the_runtime_imports_only_the_standard_library_and_itself() -> None:
    files = runtime_files()
    modules = {_module_name(f) for f in files}
    assert set(HOST_MODULES) <= modules
    wrong = []
    for file in files:
        for module, names in _imports(SOURCE_ROOT / file):
            if module.split(".")[0] in sys.stdlib_module_names:
                continue
            if module not in modules:
                wrong.append(f"{file}: {module}")
            # ``from plugins.sandbox import x``: a submodule must be in the runtime too.
            for name in names:
                sub = f"{module}.{name}"
                on_disk = (SOURCE_ROOT / Path(*sub.split("."))).with_suffix(".py").exists()
                if on_disk and sub not in modules:
                    wrong.append(f"{file}: {sub}")
    assert wrong == []


def test_the_runtime_is_a_read_only_compiled_copy_named_by_its_content(tmp_path) -> None:
    runtime = plugin_runtime(tmp_path / "runtime")
    assert runtime.parent == tmp_path / "runtime"
    api = runtime / "plugins" / "api.py"
    assert api.read_bytes() == (SOURCE_ROOT / "plugins" / "api.py").read_bytes()
    assert stat.S_IMODE(api.stat().st_mode) == 0o444
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o755
    assert list((runtime / "plugins" / "__pycache__").glob(f"api.{sys.implementation.cache_tag}.pyc"))
    assert not (runtime / "plugins" / "execution.py").exists()
    assert not (runtime / "plugins" / "models.py").exists()
    assert sorted(p.name for p in runtime.parent.iterdir()) == [runtime.name]  # no staging left

    # Another worker (another process) finds the same folder; changed code gets a new one.
    source = tmp_path / "project"
    for file in runtime_files():
        (source / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SOURCE_ROOT / file, source / file)
    assert plugin_runtime(tmp_path / "runtime", source) == runtime
    (source / "plugins" / "api.py").write_text((source / "plugins" / "api.py").read_text() + "\n# changed\n")
    # A worker that started before the change keeps what it read then, removed or not.
    assert plugin_runtime(tmp_path / "runtime", source) == runtime
    shutil.rmtree(runtime)
    assert plugin_runtime(tmp_path / "runtime", source) == runtime
    assert api.read_bytes() == (SOURCE_ROOT / "plugins" / "api.py").read_bytes()
    runtime_source.cache_clear()  # a worker started after the change
    changed = plugin_runtime(tmp_path / "runtime", source)
    assert changed != runtime
    assert (changed / "plugins" / "api.py").read_text().endswith("# changed\n")


def test_runtime_folders_no_host_started_from_for_the_grace_period_are_removed(tmp_path) -> None:
    into = tmp_path / "runtime"
    current = plugin_runtime(into)
    for name, age in (("0ld0ld0ld0ld0ld0", 3600), ("recent0recent000", 10), (".new-crashed", 3600)):
        (into / name / "plugins").mkdir(parents=True)
        os.utime(into / name, (time.time() - age, time.time() - age))
    os.utime(current, (time.time() - 3600, time.time() - 3600))  # in use: kept all the same
    removed = runtimes_prune(into=into, keep=current, grace_seconds=60)
    assert sorted(p.name for p in removed) == [".new-crashed", "0ld0ld0ld0ld0ld0"]
    assert sorted(p.name for p in into.iterdir()) == sorted([current.name, "recent0recent000"])
    before = current.stat().st_mtime
    assert plugin_runtime(into) == current
    assert current.stat().st_mtime > before  # a host start marks it used
