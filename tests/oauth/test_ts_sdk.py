"""The official TypeScript clients connect by URL alone through their OAuth support: the SDK
v1 (`@modelcontextprotocol/sdk`, what most agents are built on) and the v2 client package
(`@modelcontextprotocol/client`) in both protocol eras. Each finds the authorization server
from the 401, registers, has Chromium approve the consent, calls tools within the chosen inbox
and refreshes when the short-lived access token runs out; revoked in Settings > MCP Server,
its next request is refused.

Step-up: a grant approved with the read-only preset, then a tool that needs
conversations:note. The 403 insufficient_scope challenge names the scope and the resource
metadata; the v2 client re-authorizes for the wider scope, the admin approves it in Chromium,
and the retried call succeeds. The v1 SDK refreshes instead, which cannot widen the grant, and
gives up. One driver, tests/oauth/ts/oauth_drive.mjs, runs every variant."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from playwright.sync_api import Page, expect

from deskwoot.services.access.tokens import PRESETS
from tests.mcp.server import ROOT
from tests.oauth.conftest import log_in

pytestmark = [pytest.mark.node, pytest.mark.browser]

DRIVER = Path(__file__).resolve().parent / "ts" / "oauth_drive.mjs"
CALLBACK = "http://127.0.0.1:9/callback"
CLIENT_NAME = "Test Agent (TypeScript SDK)"
RUNS = ("sdk-v1 legacy", "client-v2 legacy", "client-v2 2026-07-28")
V2_RUNS = tuple(run for run in RUNS if run.startswith("client-v2"))
READ_ONLY = PRESETS["read_only"][1]


@pytest.fixture(scope="module")
def node_modules() -> Path:
    folder = Path(os.environ.get("DESKWOOT_MCP_CLIENTS") or ROOT / ".tools/node/node_modules")
    for package in ("sdk", "client"):
        if not (folder / "@modelcontextprotocol" / package).exists():
            pytest.fail(
                f"@modelcontextprotocol/{package} is not installed in {folder}: "
                "run `bash scripts/node-tools-setup.sh`"
            )
    return folder


class Driver:
    """oauth_drive.mjs as a child process: it prints {"authorize": url} when the user must
    approve and reads back the URL the browser landed on; last, it prints {"report": ...}."""

    def __init__(self, node_modules: Path, run: str, mcp_url: str, *flags: str):
        client, era = run.split()
        self.process = subprocess.Popen(
            [str(node_modules / ".bin/node"), str(DRIVER), client, era, mcp_url, CALLBACK, *flags],
            env={**os.environ, "DESKWOOT_MCP_CLIENTS": str(node_modules)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def authorize_url(self) -> str:
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=30)
            pytest.fail(f"the client asked for no authorization: {self.process.stderr.read()}")
        return json.loads(line)["authorize"]

    def landed(self, url: str) -> None:
        self.process.stdin.write(url + "\n")
        self.process.stdin.flush()

    def report(self) -> dict:
        out, err = self.process.communicate(timeout=120)
        assert self.process.returncode == 0, err
        return json.loads(out.strip().splitlines()[-1])["report"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


@pytest.fixture
def driver(node_modules):
    started: list[Driver] = []

    def start(*args: str) -> Driver:
        started.append(Driver(node_modules, *args))
        return started[-1]

    yield start
    for process in started:
        process.stop()


def approve(page: Page, authorize: str, preset: str | None = None) -> str:
    """Approve the consent for the Support inbox (with `preset` if given, else the scopes the
    client asked for, as the page ticks them); return the URL the browser was sent back to."""
    landed: list[str] = []
    page.route(
        re.compile(r"^http://127\.0\.0\.1:9/"),
        lambda route: (landed.append(route.request.url), route.fulfill(body="Done.")),
    )
    page.goto(authorize)
    if "/login" in page.url:
        log_in(page)
    expect(page.get_by_test_id("client-name")).to_have_text(CLIENT_NAME)
    if preset:
        page.get_by_text(preset, exact=True).click()
    page.get_by_label("Support", exact=True).check()
    page.get_by_test_id("consent-approve").click()
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:9/callback"))
    page.unroute(re.compile(r"^http://127\.0\.0\.1:9/"))
    return landed[-1]


def scopes_asked(authorize: str) -> set[str]:
    return set(parse_qs(urlsplit(authorize).query).get("scope", [""])[0].split())


@pytest.mark.parametrize("run", RUNS)
def test_typescript_client_connects_refreshes_and_is_revoked(
    run, live_server_app, live_server, desk, page: Page, driver
):
    live_server_app.config["OAUTH_ACCESS_TOKEN_TTL"] = 3  # so the client must refresh
    client = driver(run, live_server + "/api/mcp")
    authorize = client.authorize_url()
    assert "code_challenge_method=S256" in authorize
    client.landed(approve(page, authorize))
    report = client.report()

    assert report["who"]["token"]["name"] == CLIENT_NAME
    subjects = [c["subject"] for c in report["listed"]["conversations"]]
    assert subjects == ["Where is my order?"]  # the Support inbox only
    assert [c["subject"] for c in report["again"]["conversations"]] == subjects
    assert report["refreshed"] >= 1
    assert len(report["authorizations"]) == 1  # refreshed, never sent back to the browser
    # 401s only: on connecting, then each time the 3 s token ran out (once, or more if slow).
    statuses = [c["status"] for c in report["challenges"]]
    assert statuses[:2] == [401, 401] and set(statuses) == {401}

    page.goto(f"/w/{desk.workspace.slug}/settings/mcp")
    card = page.locator("[data-testid^=grant-]").filter(has_text=CLIENT_NAME)
    card.locator("summary").click()
    card.get_by_role("button", name="Yes, revoke it").click()
    expect(card.get_by_test_id("grant-status")).to_have_text("Revoked")
    response = httpx2.post(
        live_server + "/api/mcp",
        headers={"Authorization": f"Bearer {report['access_token']}", "Accept": "application/json"},
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
    )
    assert response.status_code == 401


def challenge(header: str) -> dict[str, str]:
    """The parameters of a `Bearer k="v", ...` WWW-Authenticate value."""
    assert header.startswith("Bearer "), header
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


def read_only_then_note(page: Page, client: Driver) -> None:
    """Approve the first authorization with the read-only preset; the driver then tries
    add_private_note, which needs conversations:note."""
    client.landed(approve(page, client.authorize_url(), preset="Read only"))


def assert_refused_for_the_note(report: dict, live_server: str) -> None:
    """The 403 named the scope and where the resource metadata is, as the 401 did."""
    metadata = live_server + "/.well-known/oauth-protected-resource/api/mcp"
    first, *later = report["challenges"]
    assert first["status"] == 401
    assert challenge(first["wwwAuthenticate"])["resource_metadata"] == metadata
    refusal = next(c for c in later if c["status"] == 403)
    assert (
        challenge(refusal["wwwAuthenticate"]).items()
        >= {
            "error": "insufficient_scope",
            "scope": "conversations:note",
            "resource_metadata": metadata,
        }.items()
    )
    assert report["who"]["token"]["scopes"] == sorted(READ_ONLY)


@pytest.mark.parametrize("run", V2_RUNS)
def test_v2_client_steps_up_to_the_scope_a_tool_needs(run, live_server, desk, page: Page, driver):
    client = driver(run, live_server + "/api/mcp", "--step-up")
    read_only_then_note(page, client)

    # add_private_note met 403 insufficient_scope: the client asks again, for more.
    second = client.authorize_url()
    asked = scopes_asked(second)
    assert "conversations:note" in asked
    assert asked >= set(READ_ONLY)  # the union: what it had is not given up
    page.goto(second)
    expect(page.get_by_label("conversations:note")).to_be_checked()  # ticked from the request
    client.landed(approve(page, second))
    report = client.report()

    assert_refused_for_the_note(report, live_server)
    assert report["first_try"]["thrown"]["name"] == "UnauthorizedError"  # sent to the browser
    noted_on = report["listed"]["conversations"][0]["display_id"]
    assert report["noted"]["conversation_id"] == noted_on
    assert "Stepped up." in json.dumps(report["noted"]["message"])
    assert "conversations:note" in report["who_after"]["token"]["scopes"]
    assert "conversations:note" in report["granted_scope"].split()  # the token response says so
    assert report["who_after"]["token"]["inbox_ids"] == [desk.support.id]
    assert len(report["authorizations"]) == 2
    # The wider grant replaced the read-only one (grants.supersede_older_grants).
    page.goto(f"/w/{desk.workspace.slug}/settings/mcp")
    cards = page.locator("[data-testid^=grant-]").filter(has_text=CLIENT_NAME)
    expect(cards).to_have_count(2)
    assert sorted(cards.get_by_test_id("grant-status").all_inner_texts()) == ["Active", "Revoked"]


def test_v1_sdk_refreshes_instead_of_stepping_up(live_server, desk, page: Page, driver):
    """The v1 SDK (1.32) reads the 403 challenge but, holding a refresh token, refreshes: a
    refresh cannot widen a grant (RFC 6749 section 6; it sends no scope, and gets the one it
    had), so the retry is refused again and it gives up rather than send the user back to the
    consent. The agent sees the error; an admin can approve a wider grant by connecting anew."""
    client = driver("sdk-v1 legacy", live_server + "/api/mcp", "--step-up")
    read_only_then_note(page, client)
    report = client.report()

    assert_refused_for_the_note(report, live_server)
    assert report["first_try"]["thrown"] == {
        "name": "StreamableHTTPError",
        "message": "Streamable HTTP error: Server returned 403 after trying upscoping",
    }
    assert report["refreshed"] == 1
    assert len(report["authorizations"]) == 1
    assert [c["status"] for c in report["challenges"]] == [401, 403, 403]
    assert report["who_after"]["token"]["scopes"] == sorted(READ_ONLY)
