"""The run's one headless Chromium (Debian's package, driven by Playwright's sync API).

The `browser` fixture is session-scoped and must exist once per run: Playwright's sync API
runs an event loop of its own, and a second `sync_playwright()` started while the first is
alive fails ("using Playwright Sync API inside the asyncio loop"). So it is defined here and
installed by the root tests/conftest.py, for tests/browser/ and every other folder with
browser tests (tests/e2e_email/) alike.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("DESKWOOT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 800}
# Generous: CI runs the SQLite and PostgreSQL suites side by side on two cores, so a page
# can take seconds to answer; a real failure still fails, just later.
TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole run. Missing Chromium is an error, not a skip."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's `chromium` (make test does) "
            "or point DESKWOOT_CHROMIUM at a Chromium binary."
        )
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()
