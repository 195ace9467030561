"""Dependency constraints, Python requirements and dependency order, as plain tables."""

from __future__ import annotations

import pytest

from plugins.constraints import (
    active_constraint_problem,
    constraint_problem,
    dependency_order,
    requirement_problem,
)


@pytest.mark.parametrize(
    ("constraint", "installed", "problem"),
    [
        (">=1.0,<2", ["1.0.0"], None),
        (">=1.0,<2", ["0.9", "1.5"], None),
        ("", ["3.0"], None),
        (">=2.0rc1", ["2.0rc1"], None),
        (">=1.0", [], "x depends on plugin 'base', which is not installed"),
        (">=2", ["1.0.0", "1.5.0"], "x needs base>=2, but only base 1.0.0, 1.5.0 is installed"),
        ("==1.2", ["1.10"], "x needs base==1.2, but only base 1.10 is installed"),
    ],
)
def test_a_constraint_is_met_by_any_installed_version(constraint, installed, problem) -> None:
    assert constraint_problem(plugin="x", dependency="base", constraint=constraint, installed=installed) == problem


@pytest.mark.parametrize(
    ("active", "problem"),
    [
        ("1.4", None),
        ("2.0", "x needs base<2, but the active version of base is 2.0"),
        (None, "x needs base<2, but base has no active version"),
    ],
)
def test_the_active_version_must_meet_the_constraint(active, problem) -> None:
    assert active_constraint_problem(plugin="x", dependency="base", constraint="<2", active=active) == problem


@pytest.mark.parametrize(
    ("requirement", "problem"),
    [
        ("packaging>=20", None),
        ("PyYAML", None),
        ('nonexistent-dist-xyz; python_version < "3"', None),
        ("packaging<1", "x requires packaging<1, but packaging "),
        ("nonexistent-dist-xyz>=1", "x requires nonexistent-dist-xyz>=1, but nonexistent-dist-xyz is not installed"),
        ("not a requirement!", "x requires 'not a requirement!', which is not a PEP 508 requirement"),
    ],
)
def test_python_requirements_are_checked_against_installed_distributions(requirement, problem) -> None:
    found = requirement_problem(plugin="x", requirement=requirement)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert found.startswith(problem)


def test_dependencies_come_before_their_dependents() -> None:
    order = dependency_order({"app": ["lib", "outside"], "lib": ["core"], "core": []})
    assert order.index("core") < order.index("lib") < order.index("app")


def test_a_dependency_cycle_is_named() -> None:
    with pytest.raises(ValueError, match="dependency cycle: a -> b -> a"):
        dependency_order({"a": ["b"], "b": ["a"]})
