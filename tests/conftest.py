"""Test set-up shared by every app's tests.

Services (PostgreSQL, Redis, Chromium, poppler…) are asked for with the `need_*`
helpers: absent, the test skips with a reason; with REQUIRE_SERVICES=1 (CI's second
run) it fails instead, so CI cannot go green by skipping.
"""

from __future__ import annotations

import os
import shutil

import pytest
from django.conf import settings
from django.db import connection

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "") not in ("", "0", "false", "False")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def missing_service(reason: str) -> None:
    """Skip, or fail when REQUIRE_SERVICES is set."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing (REQUIRE_SERVICES=1): {reason}")
    pytest.skip(reason)


def pytest_configure(config: pytest.Config) -> None:
    # A fast hasher for tests; production uses Argon2 (config/settings.py).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tests speak plain HTTP to the test client and to live servers on 127.0.0.1;
    # the production values are checked by tests/common/test_deploy_check.py.
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    # No collectstatic before tests: serve from the app directories.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True


@pytest.fixture
def need_postgres() -> None:
    if connection.vendor != "postgresql":
        missing_service("needs PostgreSQL (set DATABASE_URL=postgres://…)")


@pytest.fixture
def need_redis() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        missing_service("needs Redis (set REDIS_URL=redis://…)")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        missing_service(f"Redis at {url} does not answer: {exc}")
    return url


@pytest.fixture
def need_chromium() -> str:
    if not os.path.exists(CHROMIUM):
        missing_service(f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


def need_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing_service(f"needs the `{name}` program (Debian package)")
    return path  # type: ignore[return-value]
