"""Settings > MCP Server in a real browser, at 1280 and 390 px: switch it on, mint a token with
a preset (the boxes tick themselves), copy it once, revoke it after a confirmation; the audit
log shows it all. Plus the small progressive touches on the conversation pages."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from deskwoot.extensions import db
from deskwoot.models import McpToken
from deskwoot.policy import member_actor
from deskwoot.services.access import tokens
from deskwoot.services.conversations import workflow as conversation_service
from tests import factories

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DRAFTS = sorted(tokens.PRESETS["drafts"][1])


@pytest.fixture
def desk(app):
    ws = factories.make_workspace("Acme Support")
    admin = factories.make_user(ws, role="admin", name="Ann Admin", email="ann@acme.test")
    inbox = factories.make_inbox(ws, name="Support", members=[admin])
    factories.make_inbox(ws, name="Sales", members=[admin])
    contact = factories.make_contact(ws, name="Jane Customer", email="jane@example.com")
    conversation = factories.make_conversation(inbox, contact, subject="Where is my order?")
    actor = member_actor(admin, ws)
    conversation_service.reply(actor, conversation.display_id, "Looking into it.")
    conversation_service.add_note(actor, conversation.display_id, "Warehouse checked.")
    return {"workspace": ws, "conversation": conversation}


def login(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill("ann@acme.test")
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/conversations$"))


def authenticate(plaintext: str):
    """Look the token up as the server would, outside any snapshot this test still holds."""
    db.session.rollback()
    return tokens.authenticate(plaintext)


def ticked(page: Page) -> list[str]:
    return sorted(
        page.locator("input[name=scopes]:checked").evaluate_all("boxes => boxes.map(b => b.value)")
    )


def no_horizontal_overflow(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 800}, PHONE], ids=["desktop", "phone"]
)
def test_mint_copy_and_revoke_a_token(page: Page, page_log, desk, live_server, artifacts, viewport):
    page.set_viewport_size(viewport)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    login(page)
    slug = desk["workspace"].slug
    page.goto(f"/w/{slug}/settings/mcp")
    settings_nav = page.get_by_role("navigation", name="Settings")
    expect(settings_nav.get_by_role("link", name="MCP Server")).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.get_by_test_id("mcp-bot")).to_contain_text("Not provisioned yet")

    # Switch it on: the bot account appears.
    switch = page.get_by_role("switch", name="MCP server")
    expect(switch).to_have_attribute("aria-checked", "false")
    switch.click()
    expect(page.get_by_role("switch", name="MCP server")).to_have_attribute("aria-checked", "true")
    expect(page.get_by_test_id("mcp-bot")).to_contain_text("Acme Support bot")
    assert no_horizontal_overflow(page)
    page.screenshot(path=artifacts / f"mcp-settings-{viewport['width']}.png", full_page=True)

    # A preset ticks its boxes; touching a box switches to "Custom" until it matches again.
    page.get_by_label("Name").fill("OpenClaw triage bot")
    page.get_by_text("Drafts for approval", exact=True).click()
    assert ticked(page) == DRAFTS
    reply = page.locator("input[name=scopes][value='conversations:reply']")
    reply.check()
    expect(page.locator("input[name=preset][value='']")).to_be_checked()
    reply.uncheck()
    expect(page.locator("input[name=preset][value=drafts]")).to_be_checked()
    page.get_by_role("checkbox", name="Support").check()
    page.get_by_label("Expires after (days)").fill("30")
    page.get_by_role("button", name="Mint token").click()

    # Shown once, selectable, copyable, with the snippet.
    expect(page.get_by_role("heading", name="Token minted")).to_be_visible()
    token_box = page.get_by_test_id("mcp-token")
    plaintext = token_box.input_value()
    assert plaintext.startswith("dw_mcp_") and len(plaintext) == 45
    expect(token_box).to_have_attribute("readonly", "")
    # The clipboard is the browser's, shared with the previous test's context: read it only
    # once the page says the write finished.
    copy_token = page.locator("button[data-copy='#mcp-token']")  # its name becomes "Copied"
    copy_token.click()
    expect(copy_token).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == plaintext
    snippet = json.loads(page.get_by_test_id("mcp-snippet").inner_text())
    assert snippet["mcpServers"]["deskwoot"] == {
        "url": f"{live_server}/api/mcp",
        "headers": {"Authorization": f"Bearer {plaintext}"},
    }
    copy_configuration = page.locator("button[data-copy='#mcp-snippet']")
    expect(copy_configuration).to_have_text("Copy configuration")
    copy_configuration.click()
    expect(copy_configuration).to_have_text("Copied")
    assert json.loads(page.evaluate("navigator.clipboard.readText()")) == snippet
    assert no_horizontal_overflow(page), "the token page scrolls sideways"
    page.screenshot(path=artifacts / f"mcp-token-{viewport['width']}.png", full_page=True)
    live, _ws = authenticate(plaintext)
    assert sorted(live.scopes) == DRAFTS

    # Reloading the page neither shows it again nor mints another: it says it was shown.
    page.reload()
    expect(page.get_by_role("heading", name="Token already shown")).to_be_visible()
    assert plaintext not in page.content()
    expect(page.get_by_test_id("mint-another")).to_be_visible()
    assert no_horizontal_overflow(page)
    page.screenshot(path=artifacts / f"mcp-token-shown-{viewport['width']}.png", full_page=True)
    db.session.rollback()  # a fresh snapshot: see what the server committed
    assert db.session.scalar(select(func.count()).select_from(McpToken)) == 1

    # The list knows only prefix…last4.
    page.goto(f"/w/{slug}/settings/mcp")
    assert plaintext not in page.content()
    item = page.get_by_test_id(f"token-{live.id}")
    expect(item).to_contain_text(tokens.display(live))
    expect(item).to_contain_text("Support")
    expect(item.get_by_test_id("token-status")).to_have_text("Active")

    # Revoke asks first (no JavaScript dialog needed), then takes effect at once.
    page.get_by_test_id(f"revoke-{live.id}").click()
    confirm = page.get_by_role("button", name="Yes, revoke it")
    expect(confirm).to_be_visible()
    assert no_horizontal_overflow(page)
    confirm.click()
    expect(page.get_by_role("status").filter(has_text="revoked")).to_be_visible()
    assert authenticate(plaintext) is None

    # The audit log has the story, and filters it.
    settings_nav.get_by_role("link", name="Audit log").click()
    log = page.get_by_test_id("audit-log")
    for action in ("mcp.enabled", "mcp.token_minted", "mcp.token_revoked"):
        expect(log).to_contain_text(action)
    # The filter submits itself on change once app.js has bound it (on DOMContentLoaded); a
    # select changed before that (a loaded machine) changes nothing, so wait for the binding.
    expect(page.get_by_role("search", name="Filter the audit log")).to_have_attribute(
        "data-enhanced", ""
    )
    page.get_by_label("Tool or action").select_option("mcp.token_revoked")
    expect(page).to_have_url(re.compile(r"action=mcp.token_revoked"))
    expect(page.get_by_test_id("audit-log").locator("tbody tr")).to_have_count(1)
    assert no_horizontal_overflow(page)
    page.screenshot(path=artifacts / f"audit-log-{viewport['width']}.png", full_page=True)

    assert page_log.dialogs == []
    assert page_log.csp_violations() == []
    assert page_log.console_errors == []
    assert page_log.page_errors == []


def test_conversation_pages_on_a_phone(page: Page, page_log, desk, artifacts):
    page.set_viewport_size(PHONE)
    login(page)

    # Filters fold away behind a disclosure; every status tab is on screen without scrolling.
    filters = page.get_by_test_id("filters")
    expect(page.get_by_label("Inbox")).to_be_hidden()
    for tab in ("open", "pending", "snoozed", "resolved", "all"):
        expect(page.get_by_test_id(f"tab-{tab}")).to_be_in_viewport(ratio=1)
    row = page.get_by_test_id(f"conversation-{desk['conversation'].display_id}")
    assert row.bounding_box()["y"] < 480, row.bounding_box()
    filters.locator("summary").click()
    expect(page.get_by_label("Inbox")).to_be_visible()
    assert no_horizontal_overflow(page)
    page.screenshot(path=artifacts / "conversations-filters-390.png", full_page=True)

    # The conversation: messages are marked by kind; "Snooze until" only for Snoozed.
    row.click()
    expect(page.get_by_test_id("conversation-status")).to_have_text("Open")
    kinds = page.get_by_test_id("message").evaluate_all("ms => ms.map(m => m.dataset.kind)")
    assert kinds == ["incoming", "outgoing", "note"]
    snooze = page.get_by_label("Snooze until")
    expect(snooze).to_be_hidden()
    page.get_by_label("Status", exact=True).select_option("snoozed")
    expect(snooze).to_be_visible()
    page.get_by_label("Status", exact=True).select_option("pending")
    expect(snooze).to_be_hidden()
    assert page_log.page_errors == []
    assert page_log.csp_violations() == []


def test_filters_stay_open_on_a_wide_screen(page: Page, desk):
    login(page)
    expect(page.get_by_label("Inbox")).to_be_visible()
    expect(page.get_by_test_id("filters").locator("summary")).to_be_hidden()
