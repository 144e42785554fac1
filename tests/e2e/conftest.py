"""Browser tests: Playwright (sync API) driving Debian's Chromium against `live_server`.

Nothing is downloaded: Playwright is pointed at /usr/bin/chromium (see `need_chromium`
in tests/conftest.py) instead of its own browser builds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from playwright.sync_api import Browser, sync_playwright

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"

CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def _allow_async_unsafe(monkeypatch: pytest.MonkeyPatch) -> None:
    """Playwright's sync API keeps an event loop running in this thread, so Django's
    async-unsafe guard would refuse the ORM calls the test makes while the browser is
    open. Set per e2e test rather than at import time, so the guard still protects
    every other test that runs in the same worker process."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def browser(_allow_async_unsafe: None, need_chromium: str) -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=need_chromium, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            # While Playwright's loop runs, Django keeps this thread's connections in
            # context-local storage (asgiref), apart from the ones pytest-django uses.
            # Close them here, inside that context, or PostgreSQL refuses to drop the
            # test database at the end ("being accessed by other users").
            connections.close_all()


@pytest.fixture(autouse=True)
def _plain_static_storage(settings) -> None:
    """Pages link their CSS through {% static %}; with DEBUG off that asks the manifest
    storage for a manifest only `collectstatic` writes. The live server serves the files
    from the finders, so plain URLs are what it can answer."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
