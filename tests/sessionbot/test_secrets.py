"""Generate-once secrets: processes that start together all get the same, whole secret."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

from bridge.identity import mnemonic_load
from sessionbot.secrets import private_file_create, secret_file_value


def _together(count: int, call) -> list[str]:
    start = threading.Barrier(count)
    got: list[str] = []

    def one() -> None:
        start.wait()
        got.append(call())

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return got


def test_processes_starting_together_get_one_whole_secret(tmp_path: Path) -> None:
    # The server and the worker of a first `make run` read the secret key at once: one used
    # to find the file created but not yet written, and took the empty secret.
    for round_ in range(30):
        path = tmp_path / f"secret_key_{round_}"
        values = _together(6, lambda path=path: secret_file_value(path))
        assert len(set(values)) == 1
        assert values[0]
        assert path.read_text().strip() == values[0]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"secret_key_{i}" for i in sorted(range(30), key=str)]


def test_a_file_that_exists_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "bridge_token"
    assert private_file_create(path, "first\n")
    assert not private_file_create(path, "second\n")
    assert path.read_text() == "first\n"
    assert [p.name for p in tmp_path.iterdir()] == ["bridge_token"]  # no temporary file left


def test_bridges_starting_together_share_one_identity(tmp_path: Path) -> None:
    path = tmp_path / "session_mnemonic"
    words = _together(4, lambda: mnemonic_load(env_value="", path=path))
    assert len(set(words)) == 1
    assert len(words[0].split()) == 13
