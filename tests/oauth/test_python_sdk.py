"""The official Python SDK's OAuth client connects by URL alone: it discovers Deskwoot from
the 401, registers, sends the admin to the consent page (real Chromium: log in, choose the
inboxes, Approve), gets its token, works the queue, refreshes when the token runs out; the
admin revokes it in Settings > MCP Server and the next request is refused."""

from __future__ import annotations

import re

import anyio
import httpx2
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from deskwoot.extensions import db
from deskwoot.models import AuditEntry, McpToken, OAuthToken
from tests.oauth.conftest import log_in
from tests.oauth.sdk_flow import CALLBACK, Agent

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server_app(live_server_app):
    # Short-lived access tokens, so the SDK has to refresh within the test.
    live_server_app.config["OAUTH_ACCESS_TOKEN_TTL"] = 3
    return live_server_app


def approve_in_browser(page: Page, authorize_url: str, inboxes: tuple[str, ...] = ()) -> str:
    """Open the authorization URL as the admin would, approve, return where it redirected."""
    landed = []
    page.route(
        re.compile(r"^http://127\.0\.0\.1:9/"),
        lambda route: (landed.append(route.request.url), route.fulfill(body="You can close this.")),
    )
    page.goto(authorize_url)
    log_in(page)
    expect(page.get_by_test_id("client-name")).to_have_text("Test Agent (Python SDK)")
    expect(page.get_by_test_id("redirect-uri")).to_have_text(CALLBACK)
    for inbox in inboxes:
        page.get_by_label(inbox, exact=True).check()
    page.get_by_test_id("consent-approve").click()
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:9/callback"))
    return landed[-1]


def test_python_sdk_connects_refreshes_and_is_revoked(live_server, desk, page: Page):
    agent = Agent(live_server)

    async def work(client):
        who = (await client.call_tool("whoami", {})).structured_content
        listed = (await client.call_tool("list_conversations", {})).structured_content
        await anyio.sleep(3.5)  # the access token expires: the SDK refreshes before the call
        again = (await client.call_tool("list_conversations", {})).structured_content
        return who, listed, again

    run = agent.start(work)
    authorize_url = run.authorize_url()
    assert "code_challenge_method=S256" in authorize_url
    assert "resource=" in authorize_url
    agent.callbacks.put(approve_in_browser(page, authorize_url, inboxes=("Support",)))
    who, listed, again = run.finish()

    assert who["token"]["name"] == "Test Agent (Python SDK)"
    assert [i["name"] for i in who["inboxes"]] == ["Support"]
    subjects = [c["subject"] for c in listed["conversations"]]
    assert subjects == ["Where is my order?"]  # Sales is outside the grant
    assert [c["subject"] for c in again["conversations"]] == subjects

    db.session.rollback()
    grant = db.session.execute(select(McpToken).where(McpToken.kind == "oauth")).scalar_one()
    assert grant.created_by_id == desk.admin.id
    assert grant.inbox_ids == [desk.support.id]
    issuances = db.session.execute(
        select(OAuthToken).where(OAuthToken.grant_id == grant.id).order_by(OAuthToken.id)
    ).scalars()
    issuances = list(issuances)
    assert len(issuances) >= 2 and issuances[0].retired_at is not None  # rotated on refresh
    calls = db.session.execute(select(AuditEntry).where(AuditEntry.token_id == grant.id)).scalars()
    assert {(e.actor_type, e.actor_id, e.actor_name) for e in calls} == {
        ("bot", desk.workspace.bot_user_id, "Test Agent (Python SDK)")
    }

    # Settings > MCP Server lists the grant beside the bot tokens; revoking it is immediate.
    page.goto(f"/w/{desk.workspace.slug}/settings/mcp")
    card = page.get_by_test_id(f"grant-{grant.id}")
    expect(card).to_contain_text("Test Agent (Python SDK)")
    expect(card).to_contain_text("Support")
    expect(card).to_contain_text("Ann Admin")
    card.get_by_test_id(f"revoke-grant-{grant.id}").click()
    card.get_by_role("button", name="Yes, revoke it").click()
    expect(page.get_by_test_id(f"grant-{grant.id}").get_by_test_id("grant-status")).to_have_text(
        "Revoked"
    )

    response = httpx2.post(
        live_server + "/api/mcp",
        headers={
            "Authorization": f"Bearer {agent.storage.tokens.access_token}",
            "Accept": "application/json, text/event-stream",
        },
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
    )
    assert response.status_code == 401
    assert 'resource_metadata="' in response.headers["WWW-Authenticate"]
