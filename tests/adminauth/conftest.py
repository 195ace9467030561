from __future__ import annotations

import pytest
from django.contrib.auth.models import User

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fast_hasher(settings) -> None:
    """Logins here test counting, not hashing (about 0.2 s each with the real hasher)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin_user(db) -> User:
    return User.objects.create_superuser("root", "root@example.org", PASSWORD)


@pytest.fixture
def other_admin(db) -> User:
    return User.objects.create_superuser("ops", "ops@example.org", PASSWORD)
