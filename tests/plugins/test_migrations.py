"""Migrations that move data: an existing install keeps what its users saw."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("plugins", "0003_version_network")]
AFTER = [("plugins", "0004_commands_from_code")]


def _migrate(targets: list[tuple[str, str]]):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture(autouse=True)
def _latest_schema_after():
    """The tests after these run on the latest schema, not the one a test stopped at."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_localized_command_docs_move_onto_the_command_rows() -> None:
    old = _migrate(BEFORE)
    plugin = old.get_model("plugins", "Plugin").objects.create(name="weather")
    version = old.get_model("plugins", "PluginVersion").objects.create(plugin=plugin, version="1.0.0", entrypoint="w:W")
    old.get_model("plugins", "PluginCommand").objects.create(version=version, name="weather", summary="Weather")
    docs = old.get_model("plugins", "PluginDoc").objects
    docs.create(plugin=plugin, command="weather", language="es", title="Tiempo", body="El tiempo")
    docs.create(plugin=plugin, command="weather", language="en", title="Weather", body="/weather CITY")
    docs.create(plugin=plugin, command="", language="en", title="Weather", body="The plugin")

    new = _migrate(AFTER)
    command = new.get_model("plugins", "PluginCommand").objects.get()
    assert (command.summary, command.help) == ("Weather", "/weather CITY")
    assert command.docs == {"es": {"summary": "Tiempo", "help": "El tiempo"}}
