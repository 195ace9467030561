"""Version activation is blocked by unmet dependencies or requirements; rollback goes back."""

from __future__ import annotations

import re

import pytest

from plugins.models import Plugin, PluginVersion
from plugins.versions import (
    ActivationError,
    DependencyError,
    RequirementError,
    version_activate,
    version_rollback,
)

pytestmark = pytest.mark.django_db


def _version(name: str, version: str, **fields) -> PluginVersion:
    plugin, _ = Plugin.objects.get_or_create(name=name)
    return PluginVersion.objects.create(plugin=plugin, version=version, entrypoint=f"{name}:P", **fields)


def _active(name: str) -> str | None:
    plugin = Plugin.objects.select_related("active_version").get(name=name)
    return plugin.active_version.version if plugin.active_version else None


def _installed_then_active(name: str, installed: str, active: str) -> None:
    _version(name, installed)
    version_activate(version=_version(name, active))


def test_a_version_without_dependencies_activates() -> None:
    version_activate(version=_version("base", "1.0"))
    assert _active("base") == "1.0"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda: None, "app 1.0 depends on plugin 'base', which is not installed"),
        (lambda: _version("base", "1.0"), "app 1.0 needs base>=2, but only base 1.0 is installed"),
        (lambda: _version("base", "2.0"), "app 1.0 needs base>=2, but base has no active version"),
        (
            lambda: _installed_then_active("base", "2.0", "1.5"),
            "app 1.0 needs base>=2, but the active version of base is 1.5",
        ),
    ],
)
def test_an_unmet_dependency_blocks_activation_and_names_it(setup, message) -> None:
    setup()
    app = _version("app", "1.0", dependencies={"base": ">=2"})
    with pytest.raises(DependencyError, match=re.escape(message)):
        version_activate(version=app)
    assert _active("app") is None


def test_a_met_dependency_allows_activation() -> None:
    version_activate(version=_version("base", "2.1"))
    version_activate(version=_version("app", "1.0", dependencies={"base": ">=2,<3"}))
    assert _active("app") == "1.0"


def test_activating_a_version_that_breaks_an_active_dependent_is_refused() -> None:
    version_activate(version=_version("base", "1.0"))
    version_activate(version=_version("app", "1.0", dependencies={"base": "<2"}))
    with pytest.raises(DependencyError, match=re.escape("app 1.0 needs base<2; activating 2.0 would break it")):
        version_activate(version=_version("base", "2.0"))
    assert _active("base") == "1.0"


def test_an_unmet_python_requirement_blocks_activation_and_names_it() -> None:
    version = _version("app", "1.0", requirements=["nonexistent-dist-xyz>=1"])
    with pytest.raises(
        RequirementError, match=re.escape("app 1.0 requires nonexistent-dist-xyz>=1, but nonexistent-dist-xyz")
    ):
        version_activate(version=version)
    assert _active("app") is None


def test_a_met_python_requirement_allows_activation() -> None:
    version_activate(version=_version("app", "1.0", requirements=["packaging>=20", "PyYAML"]))
    assert _active("app") == "1.0"


def test_rollback_returns_to_the_previously_active_version() -> None:
    old = _version("app", "1.0")
    version_activate(version=old)
    version_activate(version=_version("app", "2.0"))
    plugin = Plugin.objects.get(name="app")
    assert version_rollback(plugin=plugin) == old
    assert _active("app") == "1.0"
    assert version_rollback(plugin=plugin).version == "2.0"
    assert _active("app") == "2.0"


def test_rollback_without_an_earlier_version_says_so() -> None:
    version_activate(version=_version("app", "1.0"))
    with pytest.raises(ActivationError, match="app has no earlier version to roll back to"):
        version_rollback(plugin=Plugin.objects.get(name="app"))
    assert _active("app") == "1.0"
