"""The confinement command line and the hard limits (pure, no Django, no root)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from plugins.sandbox.confine import Entry, Sandbox, bwrap_argv, hard_limits
from plugins.sandbox.firewall import ruleset

BOX = Sandbox(
    bwrap="/usr/bin/bwrap",
    uid=200007,
    gid=200007,
    network=False,
    read_only=("/srv/bot/plugins", "/opt/py", "/srv/bot/data/plugin-code/x/abc"),
    writable="/srv/bot/data/plugin-data/x",
    links={"/lib": "usr/lib", "/bin": "usr/bin"},
    present=frozenset({"/usr", "/etc/localtime", "/etc/resolv.conf", "/etc/ssl"}),
)


def pairs(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def test_a_default_host_gets_every_namespace_and_no_network() -> None:
    argv = bwrap_argv(BOX)
    for flag in ("--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--die-with-parent"):
        assert flag in argv
    assert argv[-1] == "--"


def test_a_networked_host_shares_the_network_and_gets_dns_and_tls_files() -> None:
    argv = bwrap_argv(replace(BOX, network=True))
    assert "--unshare-net" not in argv
    assert {"/etc/resolv.conf", "/etc/ssl"} <= set(pairs(argv, "--ro-bind"))
    assert "/etc/resolv.conf" not in pairs(bwrap_argv(BOX), "--ro-bind")


def test_only_the_plugins_own_folder_is_writable_and_the_project_root_is_not_bound() -> None:
    argv = bwrap_argv(BOX)
    assert pairs(argv, "--bind") == ["/srv/bot/data/plugin-data/x"]
    assert pairs(argv, "--chdir") == ["/srv/bot/data/plugin-data/x"]
    bound = pairs(argv, "--ro-bind")
    assert "/srv/bot" not in bound
    assert "/srv/bot/data" not in bound
    assert {"/srv/bot/plugins", "/opt/py", "/srv/bot/data/plugin-code/x/abc", "/usr"} <= set(bound)


def test_tmp_and_dev_shm_are_private_and_writable_by_the_plugin() -> None:
    argv = bwrap_argv(BOX)
    at = [i for i, a in enumerate(argv) if a == "--tmpfs"]
    assert [argv[i + 1] for i in at] == ["/dev/shm", "/tmp"]
    assert all(argv[i - 2 : i] == ["--perms", "1777"] for i in at)


def test_symlinked_system_folders_stay_symlinks_and_missing_ones_are_left_out() -> None:
    argv = bwrap_argv(BOX)
    assert [argv[i + 1 : i + 3] for i, a in enumerate(argv) if a == "--symlink"] == [
        ["usr/bin", "/bin"],
        ["usr/lib", "/lib"],
    ]
    assert "/lib64" not in argv


def test_folders_above_the_binds_are_made_enterable_before_the_binds() -> None:
    argv = bwrap_argv(BOX)
    made = pairs(argv, "--dir")
    assert made == [
        "/etc",  # before the /etc files: 0755, where bubblewrap would make it 0700
        "/opt",
        "/srv",
        "/srv/bot",
        "/srv/bot/data",
        "/srv/bot/data/plugin-code",
        "/srv/bot/data/plugin-data",
        "/srv/bot/data/plugin-code/x",
    ]
    assert max(argv.index(d) for d in made) < argv.index("/srv/bot/plugins")
    assert argv[argv.index("/etc") - 3 : argv.index("/etc")] == ["--perms", "0755", "--dir"]
    assert argv.index("/etc") < argv.index("/etc/localtime")


def test_a_project_under_tmp_is_bound_on_top_of_the_private_tmp_not_hidden_by_it() -> None:
    box = replace(
        BOX,
        read_only=("/tmp/ci/checkout/plugins", "/tmp/ci/checkout/.venv", "/tmp/ci/data/plugin-code/x/abc"),
        writable="/tmp/ci/data/plugin-data/x",
    )
    argv = bwrap_argv(box)
    tmpfs = argv.index("/tmp", argv.index("--tmpfs") + 2)
    assert argv[tmpfs - 1] == "--tmpfs"
    for path in (*box.read_only, box.writable):
        assert argv.index(path) > tmpfs, path
    made = [d for d in pairs(argv, "--dir") if d != "/etc"]
    assert "/tmp" not in made
    assert made[:2] == ["/tmp/ci", "/tmp/ci/checkout"]
    assert all(argv.index(d) > tmpfs for d in made)


@pytest.mark.parametrize(
    ("processes", "expected"),
    [(64, {"AS": 128 << 20, "CPU": 600, "FSIZE": 1 << 30, "NOFILE": 1024, "CORE": 0, "NPROC": 64}), (None, None)],
)
def test_hard_limits_cap_memory_cpu_files_and_processes(processes, expected) -> None:
    limits = hard_limits(memory_mb=128, cpu_seconds=2, processes=processes)
    if expected is None:
        assert "NPROC" not in limits  # hosts share the worker's uid: its own count is not ours
    else:
        assert limits == expected


def test_a_long_cpu_budget_raises_the_lifetime_cpu_limit() -> None:
    assert hard_limits(memory_mb=64, cpu_seconds=60, processes=None)["CPU"] == 3000


def test_the_entry_survives_the_command_line() -> None:
    entry = Entry(limits={"AS": 1, "NPROC": 2}, uid=200001, gid=200001, cgroup_fds=(5, 6))
    assert Entry.from_arg(entry.to_arg()) == entry
    assert Entry.from_arg(replace(entry, site=True).to_arg()).site


ENV = "/srv/bot/data/plugin-envs/d1"


def test_an_environments_bin_and_pyvenv_cfg_give_way_to_trusted_ones_after_the_binds() -> None:
    box = replace(
        BOX,
        read_only=(*BOX.read_only, ENV),
        emptied=(f"{ENV}/bin",),
        overlays=(("/opt/py/bin/python3.11", f"{ENV}/bin/python"), ("/srv/bot/data/cfg/a.cfg", f"{ENV}/pyvenv.cfg")),
    )
    argv = bwrap_argv(box)
    env_bind = argv.index(ENV)
    empty = argv.index(f"{ENV}/bin")
    assert argv[empty - 3 : empty] == ["--perms", "0755", "--tmpfs"]
    python = argv.index(f"{ENV}/bin/python")
    assert argv[python - 2 : python] == ["--ro-bind", "/opt/py/bin/python3.11"]
    config = argv.index(f"{ENV}/pyvenv.cfg")
    assert argv[config - 2 : config] == ["--ro-bind", "/srv/bot/data/cfg/a.cfg"]
    remount = argv.index("--remount-ro")
    assert argv[remount + 1] == f"{ENV}/bin"
    assert env_bind < empty < python < remount  # mounted over the environment, then sealed
    assert max(python, config, remount) < argv.index("--bind")


def test_a_host_on_the_workers_interpreter_has_nothing_mounted_over_its_binds() -> None:
    argv = bwrap_argv(BOX)
    assert "--remount-ro" not in argv
    assert pairs(argv, "--tmpfs") == ["/dev/shm", "/tmp"]


def test_the_firewall_rejects_local_addresses_for_the_plugin_uid_range_only() -> None:
    rules = ruleset(first_uid=200000, last_uid=265535)
    assert "meta skuid 200000-265535 fib daddr type local counter reject" in rules
    assert "ip daddr 127.0.0.0/8" in rules
    assert "ip6 daddr ::1" in rules
    assert rules.startswith("table inet sessionbot {}\ndelete table inet sessionbot\n")  # idempotent
