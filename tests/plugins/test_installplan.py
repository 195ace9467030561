"""Which version row an install writes, as a table."""

from __future__ import annotations

import pytest

from plugins.installplan import Installed, Plan, install_plan, version_tag

SHA = "0123456789abcdef0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba9876543210fedcba98"


def row(version: str, resolved: str = SHA, code: str = "c1", checksum: str = "k1", failed: bool = False) -> Installed:
    return Installed(version=version, resolved=resolved, code=code, checksum=checksum, failed=failed)


CASES = [
    ("nothing installed", "1.0.0", SHA, [], Plan("create", "1.0.0")),
    ("same commit, code and entry", "1.0.0", SHA, [row("1.0.0")], Plan("unchanged", "1.0.0")),
    (
        "same code under a tagged label",
        "1.0.0",
        OTHER,
        [row("1.0.0"), row("1.0.0+fedcba987654", OTHER)],
        Plan("unchanged", "1.0.0+fedcba987654"),
    ),
    ("a moved branch, same number", "1.0.0", OTHER, [row("1.0.0")], Plan("create", "1.0.0+fedcba987654")),
    ("a new number", "1.1.0", OTHER, [row("1.0.0")], Plan("create", "1.1.0")),
    ("the number equal by PEP 440", "1", OTHER, [row("1.0.0")], Plan("create", "1+fedcba987654")),
    ("a failed build of that number", "1.0.0", SHA, [row("1.0.0", failed=True)], Plan("replace", "1.0.0")),
    (
        "a failed build of the tagged label",
        "1.0.0",
        OTHER,
        [row("1.0.0"), row("1.0.0+fedcba987654", OTHER, failed=True)],
        Plan("replace", "1.0.0+fedcba987654"),
    ),
]


@pytest.mark.parametrize(("case", "wanted", "resolved", "installed", "plan"), CASES, ids=[c[0] for c in CASES])
def test_the_plan_for_each_installed_state(case, wanted, resolved, installed, plan) -> None:
    code = "c1" if resolved == SHA or case.startswith("same code") else "c2"
    assert install_plan(wanted=wanted, resolved=resolved, code=code, checksum="k1", installed=installed) == plan


def test_a_failed_build_is_never_unchanged() -> None:
    assert (
        install_plan(
            wanted="1.0.0", resolved=SHA, code="c1", checksum="k1", installed=[row("1.0.0", failed=True)]
        ).action
        == "replace"
    )


def test_a_folder_is_tagged_by_its_code_digest() -> None:
    assert version_tag(resolved="not-a-commit", code="ABCDEF0123456789") == "abcdef012345"
