"""ADMIN_PATH moves the admin; the old path answers 404."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import clear_url_caches

import sessionbot.urls


@pytest.fixture
def admin_path(settings) -> Iterator[str]:
    settings.ADMIN_PATH = "ops-7f3a/console/"
    importlib.reload(sessionbot.urls)
    clear_url_caches()
    yield settings.ADMIN_PATH
    settings.ADMIN_PATH = "admin/"
    importlib.reload(sessionbot.urls)
    clear_url_caches()


def test_the_admin_moves_to_admin_path_and_the_old_path_is_gone(admin_path, admin_user) -> None:
    client = Client()
    assert client.get("/admin/login/").status_code == 404
    assert client.get("/admin/").status_code == 404
    page = client.get(f"/{admin_path}login/")
    assert page.status_code == 200
    assert f'action="/{admin_path}login/"' in page.content.decode()
    response = client.post(f"/{admin_path}login/", {"username": "root", "password": "correct horse battery staple"})
    assert response.status_code == 302
    assert client.get(f"/{admin_path}").status_code == 200
