"""Real-browser fixtures: the app over real HTTP, and a headless Chromium driven by Playwright.

- `live_server`: a fresh app (its own, with CSRF on) on 127.0.0.1 and a free port, serving
  the per-test database of `app_config`; yields the base URL.
- `browser`: one Chromium per run (Debian's, never a downloaded one).
- `page`: a fresh context per test (1280x800, `base_url` = the live server) that records JS
  dialogs (and dismisses them), console errors, uncaught page errors and failed responses in
  `page_log`, and saves a full-page screenshot into `artifacts` when the test fails.
"""

from __future__ import annotations

import re
import threading
import traceback
from dataclasses import dataclass, field

import pytest
from flask import got_request_exception
from werkzeug.serving import make_server

from deskwoot import create_app
from deskwoot.extensions import db
from tests.browser.chromium import CHROMIUM, TIMEOUT_MS, VIEWPORT  # noqa: F401 (re-exported)

_reports = pytest.StashKey[dict]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item so fixtures can tell whether the test failed."""
    report = yield
    item.stash.setdefault(_reports, {})[report.when] = report
    return report


@pytest.fixture
def live_server_app(app_config, tmp_path):
    """The server's own app: same database as the test, CSRF on as in production."""
    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    app.instance_path = str(tmp_path / "live-instance")
    return app


@pytest.fixture
def live_server(live_server_app):
    """Serve the app over real HTTP on 127.0.0.1:<free port>; yield its base URL."""
    app = live_server_app
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_URL"] = url  # inbound and set-password links point here
    errors: list[str] = []  # a view that raised fails the test even if the page looked fine

    def record(_sender, exception, **_extra):
        errors.append("".join(traceback.format_exception(exception)))

    got_request_exception.connect(record, app)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="live-server",
        daemon=True,
    )
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        got_request_exception.disconnect(record, app)
        with app.app_context():
            db.engine.dispose()
    if errors:
        pytest.fail("The live server raised while serving the test:\n" + "\n".join(errors))


@dataclass
class PageLog:
    """What happened in the page besides what the test looked at."""

    dialogs: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return [m for m in self.console_errors if "Content Security Policy" in m]


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


def _slug(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", nodeid.split("::", 1)[-1]).strip("-")[:120]


def watch(page, page_log: PageLog):
    """Record into `page_log` what a person would notice going wrong: dialogs (dismissed),
    console errors, uncaught page errors and 4xx/5xx responses."""

    def on_dialog(dialog):
        page_log.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_response(response):
        if response.status >= 400:
            page_log.bad_responses.append(f"{response.status} {response.url}")

    page.on("dialog", on_dialog)
    page.on("console", lambda m: m.type == "error" and page_log.console_errors.append(m.text))
    page.on("pageerror", lambda error: page_log.page_errors.append(str(error)))
    page.on("response", on_response)
    return page


@pytest.fixture
def page(browser, live_server, page_log, artifacts, request):
    """A fresh browser context and page on the live server; screenshot on failure."""
    context = browser.new_context(viewport=VIEWPORT, base_url=live_server)
    context.set_default_timeout(TIMEOUT_MS)
    page = watch(context.new_page(), page_log)
    try:
        yield page
    finally:
        reports = request.node.stash.get(_reports, {})
        if any(r.failed for r in reports.values()):
            name = _slug(request.node.nodeid)
            try:
                page.screenshot(path=artifacts / f"FAILED-{name}.png", full_page=True)
                (artifacts / f"FAILED-{name}.html").write_text(page.content())
            except Exception as error:  # the page may be what broke; keep the real failure
                print(f"could not save a failure screenshot: {error}")
        context.close()
