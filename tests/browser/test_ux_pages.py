"""The demo workspace as a new user sees it, at 1280x800 and on a 375 px phone: working a
conversation (title, status and Resolve on screen without scrolling; one Save), who wrote
what, the takeover notice, and the one-time token page. Screenshots land in
test-artifacts/ux/ for people to look at."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from deskwoot import policy
from deskwoot.extensions import db
from deskwoot.models import Conversation, User, Workspace
from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.services.access import tokens as token_service
from deskwoot.services.conversations import drafts as draft_service
from deskwoot.services.conversations import workflow as conversation_service
from deskwoot.services.operations import demo
from tests import factories

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])


@pytest.fixture
def shots(artifacts):
    folder = artifacts / "ux"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def seeded(app):
    """The demo workspace, with its MCP server on and a bot that noted, drafted and replied."""
    demo.seed_demo()
    ws = db.session.execute(db.select(Workspace).where(Workspace.slug == demo.SLUG)).scalar_one()
    admin = db.session.execute(db.select(User).where(User.email == demo.ADMIN_EMAIL)).scalar_one()
    actor = factories.actor_for(admin, ws)
    mcp_settings.set_enabled(actor, True)
    minted = token_service.mint(actor, "OpenClaw triage", sorted(policy.SCOPES))
    bot = policy.token_actor(minted.token, db.session.get(Workspace, ws.id))
    open_ones = db.session.execute(
        db.select(Conversation)
        .where(Conversation.workspace_id == ws.id, Conversation.status == "open")
        .order_by(Conversation.last_activity_at.desc())
    ).scalars()
    bot_free = [c for c in open_ones if not c.handoff]
    first, second = bot_free[0], bot_free[1]
    conversation_service.add_note(bot, first.display_id, "Customer is on the Pro plan.")
    draft_service.create_draft(bot, first.display_id, "Thanks! I have passed this on.")
    conversation_service.reply(bot, second.display_id, "Happy to help: the export is in Reports.")
    return {"workspace": ws, "first": first.display_id, "second": second.display_id}


def login(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(demo.ADMIN_EMAIL)
    page.get_by_label("Password").fill(demo.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/conversations$"))


def no_horizontal_overflow(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@VIEWPORTS
def test_working_a_conversation(page: Page, page_log, seeded, shots, viewport):
    page.set_viewport_size(viewport)
    login(page)
    width = viewport["width"]
    slug = seeded["workspace"].slug

    # The list: real authors, "Human" where a teammate has taken over.
    expect(page.get_by_test_id("conversation-list").locator(".badge-human")).to_have_count(1)
    row = page.get_by_test_id(f"conversation-{seeded['second']}")
    expect(row.get_by_test_id("preview-author")).to_have_text(
        re.compile(r"^OpenClaw triage\s+Bot:")
    )
    assert "You:" not in row.inner_text()
    assert no_horizontal_overflow(page)
    page.screenshot(path=shots / f"conversations-{width}.png", full_page=True)

    # A conversation opens on its title, status and Resolve, phone included.
    page.goto(f"/w/{slug}/conversations/{seeded['first']}")
    for locator in (
        page.locator(".conv-heading h1"),
        page.get_by_test_id("conversation-status"),
        page.get_by_test_id("resolve"),
    ):
        expect(locator).to_be_in_viewport(ratio=1)
    page.screenshot(path=shots / f"conversation-top-{width}.png")
    # The bot's note and its draft carry one name; the reply box warns about taking over.
    expect(page.locator(".msg-note .msg-author")).to_have_text("OpenClaw triage")
    expect(page.locator(".draft-bot")).to_have_text("OpenClaw triage")
    expect(page.get_by_test_id("reply-takes-over")).to_be_visible()
    assert no_horizontal_overflow(page)
    page.screenshot(path=shots / f"conversation-{width}.png", full_page=True)

    # One form, one Save, for status, priority, assignee and labels together.
    form = page.get_by_test_id("details-form")
    form.get_by_label("Priority").select_option("urgent")
    form.get_by_label("Assignee").select_option(label="Sam Rivera")
    form.locator("label.check", has_text="bug").click()
    form.get_by_test_id("save-details").click()
    flash = page.locator(".flash-success")
    expect(flash).to_contain_text("Priority set to urgent.")
    expect(flash).to_contain_text("Assigned to Sam Rivera.")
    expect(flash).to_contain_text("Labels saved.")
    expect(page.locator(".conv-sub .badge-priority")).to_have_text("Urgent")

    # Snoozing from the same form: the time field appears only for "Snoozed".
    snooze = form.get_by_label("Snooze until")
    expect(snooze).to_be_hidden()
    form.get_by_label("Status", exact=True).select_option("snoozed")
    expect(snooze).to_be_visible()
    snooze.fill("2099-01-01T09:00")
    form.get_by_test_id("save-details").click()
    expect(page.get_by_test_id("conversation-status")).to_have_text("Snoozed")
    page.screenshot(path=shots / f"conversation-saved-{width}.png")

    # Resolve is one click.
    page.get_by_test_id("resolve").click()
    expect(page.get_by_test_id("conversation-status")).to_have_text("Resolved")
    expect(page.get_by_test_id("reopen")).to_be_visible()

    assert page_log.page_errors == [] and page_log.console_errors == []
    assert page_log.csp_violations() == []


@VIEWPORTS
def test_settings_pages_a_new_user_sees(page: Page, page_log, seeded, shots, viewport):
    page.set_viewport_size(viewport)
    width = viewport["width"]
    login(page)
    slug = seeded["workspace"].slug

    page.goto(f"/w/{slug}/settings/mcp")
    page.get_by_label("Name").fill("Phone test")
    page.get_by_text("Drafts for approval", exact=True).click()
    page.get_by_role("button", name="Mint token").click()
    expect(page.get_by_role("heading", name="Token minted")).to_be_visible()
    page.screenshot(path=shots / f"mcp-token-{width}.png", full_page=True)
    page.reload()
    expect(page.get_by_role("heading", name="Token already shown")).to_be_visible()
    assert no_horizontal_overflow(page)
    page.screenshot(path=shots / f"mcp-token-shown-{width}.png", full_page=True)

    page.goto(f"/w/{slug}/settings/audit")
    expect(page.get_by_test_id("audit-log")).to_contain_text("Alex Morgan")
    expect(page.get_by_test_id("audit-log")).not_to_contain_text("Person")
    assert no_horizontal_overflow(page)
    page.screenshot(path=shots / f"audit-{width}.png", full_page=True)

    page.goto(f"/w/{slug}/settings/billing")
    expect(page.get_by_test_id("rest-api-row")).to_contain_text("✓")
    page.screenshot(path=shots / f"billing-{width}.png", full_page=True)

    page.goto(f"/w/{slug}/drafts")
    expect(page.locator(".draft-bot").first).to_have_text("OpenClaw triage")
    assert no_horizontal_overflow(page)
    page.screenshot(path=shots / f"drafts-{width}.png", full_page=True)
    assert page_log.page_errors == []
