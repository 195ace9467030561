#!/usr/bin/env python
"""Django's command-line utility for sessionbot."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sessionbot.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db import Error as DatabaseError

    from sessionbot.dbconnect import EXIT_UNREACHABLE, connect_failed, connect_failure_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 - load settings now, to report a bad one cleanly
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A bad setting stops start-up with one line naming it, not a traceback.
        print(f"sessionbot: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    except DatabaseError as exc:
        # So does a database that cannot be reached; any other database error keeps its traceback.
        if not connect_failed(exc):
            raise
        print(connect_failure_line(settings.DATABASES["default"], exc), file=sys.stderr)
        sys.exit(EXIT_UNREACHABLE)


if __name__ == "__main__":
    main()
