"""A web process resolves its URLs and compiles the admin's front page before its first request."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sessionbot.warmup import templates_compile
from tests.conftest import ROOT

_PROBE = """
import gc
import json
import django
django.setup()
from django.template import engines
from django.urls import get_resolver

def state():
    loader = engines["django"].engine.template_loaders[0]
    return {
        "urls": get_resolver()._populated,
        "templates": sorted(loader.get_template_cache),
        "frozen": gc.get_freeze_count() > 0,
    }

before = state()
import sessionbot.asgi
print(json.dumps({"before": before, "after": state()}))
"""


def test_importing_the_asgi_application_resolves_the_urls_compiles_the_front_page_and_freezes(tmp_path) -> None:
    env = {**os.environ, "DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "sessionbot.settings"}
    env.pop("DATABASE_URL", None)  # no database is touched: a fresh file that stays empty
    out = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["before"] == {"urls": False, "templates": [], "frozen": False}
    assert found["after"]["urls"] is True
    assert found["after"]["frozen"] is True  # the start's objects are out of the collector's reach
    assert {"console/index.html", "console/dashboard.html", "admin/base.html"} <= set(found["after"]["templates"])


def test_every_template_the_front_page_extends_or_includes_is_compiled() -> None:
    names = templates_compile("console/index.html")
    assert names[0] == "console/index.html"
    # extends (admin/index.html, admin/base.html), include (style.html), inclusion tag (dashboard.html)
    # and includes inside the inclusion tag's template (figures.html).
    for name in ("admin/index.html", "admin/base.html", "console/style.html", "console/dashboard.html"):
        assert name in names
    assert "console/figures.html" in names
    assert len(names) == len(set(names))
