"""``runbroker --workers``: one named default, and the help says the one in effect."""

from __future__ import annotations

import pytest
from django.test import override_settings

from broker.management.commands.runbroker import WORKERS_DEFAULT, WORKERS_DEFAULT_SQLITE, Command


@pytest.mark.parametrize(("sqlite", "expected"), [(True, WORKERS_DEFAULT_SQLITE), (False, WORKERS_DEFAULT)])
def test_the_default_follows_the_database_and_the_help_says_it(sqlite, expected) -> None:
    with override_settings(DATABASE_IS_SQLITE=sqlite):
        parser = Command().create_parser("manage.py", "runbroker")
    assert parser.parse_args([]).workers == expected
    help_text = " ".join(parser.format_help().split())
    assert f"(default here {expected}: 8 on PostgreSQL, 4 on SQLite," in help_text
    assert (WORKERS_DEFAULT, WORKERS_DEFAULT_SQLITE) == (8, 4)
