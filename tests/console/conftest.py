"""The dashboard keeps the stored hours' sums in Django's cache: each test starts without them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _cache_empty() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()
