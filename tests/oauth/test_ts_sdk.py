"""The official TypeScript SDK (v1, what most agents are built on) connects by URL alone
through its OAuth support: discovery from the 401, registration, Chromium approving the
consent, tools within the chosen inbox, a refresh when the short-lived access token runs out;
revoked in Settings > MCP Server, its next request is refused."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import httpx2
import pytest
from playwright.sync_api import Page, expect

from tests.mcp.server import ROOT
from tests.oauth.conftest import log_in

pytestmark = [pytest.mark.node, pytest.mark.browser]

DRIVER = Path(__file__).resolve().parent / "ts" / "oauth_drive.mjs"
CALLBACK = "http://127.0.0.1:9/callback"


@pytest.fixture
def live_server_app(live_server_app):
    live_server_app.config["OAUTH_ACCESS_TOKEN_TTL"] = 3  # so the SDK must refresh
    return live_server_app


@pytest.fixture(scope="module")
def node_modules() -> Path:
    folder = Path(os.environ.get("DESKWOOT_MCP_CLIENTS") or ROOT / ".tools/node/node_modules")
    if not (folder / "@modelcontextprotocol/sdk").exists():
        pytest.fail("the TypeScript SDK is not installed: run `bash scripts/node-tools-setup.sh`")
    return folder


def test_typescript_sdk_connects_refreshes_and_is_revoked(
    live_server, desk, page: Page, node_modules
):
    process = subprocess.Popen(
        [str(node_modules / ".bin/node"), str(DRIVER), live_server + "/api/mcp", CALLBACK],
        env={**os.environ, "DESKWOOT_MCP_CLIENTS": str(node_modules)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = json.loads(process.stdout.readline() or "{}")
        assert "authorize" in first, process.stderr.read()
        assert "code_challenge_method=S256" in first["authorize"]
        landed = []
        page.route(
            re.compile(r"^http://127\.0\.0\.1:9/"),
            lambda route: (landed.append(route.request.url), route.fulfill(body="Done.")),
        )
        page.goto(first["authorize"])
        log_in(page)
        expect(page.get_by_test_id("client-name")).to_have_text("Test Agent (TypeScript SDK)")
        page.get_by_label("Support", exact=True).check()
        page.get_by_test_id("consent-approve").click()
        page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:9/callback"))
        out, err = process.communicate(landed[-1] + "\n", timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])["report"]
    assert report["who"]["token"]["name"] == "Test Agent (TypeScript SDK)"
    subjects = [c["subject"] for c in report["listed"]["conversations"]]
    assert subjects == ["Where is my order?"]
    assert [c["subject"] for c in report["again"]["conversations"]] == subjects
    assert report["refreshed"] >= 1

    page.goto(f"/w/{desk.workspace.slug}/settings/mcp")
    card = page.locator("[data-testid^=grant-]").filter(has_text="Test Agent (TypeScript SDK)")
    card.locator("summary").click()
    card.get_by_role("button", name="Yes, revoke it").click()
    expect(card.get_by_test_id("grant-status")).to_have_text("Revoked")
    response = httpx2.post(
        live_server + "/api/mcp",
        headers={"Authorization": f"Bearer {report['access_token']}", "Accept": "application/json"},
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
    )
    assert response.status_code == 401
