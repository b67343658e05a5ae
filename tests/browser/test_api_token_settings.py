"""Settings > API tokens in a real browser: an admin mints a REST API token, sees it once with
its curl example and copies it, then revokes it after a confirmation."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from deskwoot.extensions import db
from deskwoot.services.access import tokens
from tests import factories

pytestmark = pytest.mark.browser


@pytest.fixture
def slug(app) -> str:
    ws = factories.make_workspace("Acme Support")
    factories.make_user(ws, role="admin", name="Ann Admin", email="ann@acme.test")
    factories.make_inbox(ws, name="Support")
    return ws.slug


def lookup(plaintext: str):
    """Look the token up as the REST API's gate would, in a fresh snapshot."""
    db.session.rollback()
    return tokens.lookup(plaintext, "api")


def test_mint_see_once_and_revoke_an_api_token(page: Page, page_log, slug, live_server, artifacts):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    page.goto("/login")
    page.get_by_label("Email").fill("ann@acme.test")
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/conversations$"))

    settings_nav = page.get_by_role("navigation", name="Settings")
    page.goto(f"/w/{slug}/settings/inboxes")
    settings_nav.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens", exact=True)).to_be_visible()
    expect(page.get_by_test_id("api-reference")).to_have_attribute(
        "href", f"{live_server}/api/v1/docs"
    )

    # The preset ticks its boxes, as on the MCP page.
    page.get_by_label("Name").fill("CRM sync")
    page.get_by_text("Read only", exact=True).click()
    expect(page.locator("input[name=scopes][value='contacts:read']")).to_be_checked()
    page.get_by_role("button", name="Mint token").click()

    expect(page.get_by_role("heading", name="Token minted")).to_be_visible()
    plaintext = page.get_by_test_id("api-token").input_value()
    assert tokens.well_formed(plaintext, "api")
    expect(page.get_by_test_id("api-curl")).to_have_text(
        f'curl -H "Authorization: Bearer {plaintext}" {live_server}/api/v1/conversations'
    )
    copy = page.locator("button[data-copy='#api-token']")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == plaintext
    page.screenshot(path=artifacts / "api-token-minted.png", full_page=True)
    live = lookup(plaintext)
    assert live is not None and live.name == "CRM sync"

    # Once: the reload does not show it again.
    page.reload()
    expect(page.get_by_role("heading", name="Token already shown")).to_be_visible()
    assert plaintext not in page.content()

    # The list shows prefix…last4; Revoke asks first, then the next request is refused.
    page.get_by_test_id("mint-another").click()
    item = page.get_by_test_id(f"token-{live.id}")
    expect(item.get_by_test_id("token-status")).to_have_text("Active")
    assert plaintext not in page.content()
    page.get_by_test_id(f"revoke-{live.id}").click()
    page.get_by_role("button", name="Yes, revoke it").click()
    expect(page.get_by_role("status").filter(has_text="revoked")).to_be_visible()
    expect(page.get_by_test_id(f"token-{live.id}").get_by_test_id("token-status")).to_have_text(
        "Revoked"
    )
    assert lookup(plaintext) is None

    assert page_log.dialogs == []
    assert page_log.csp_violations() == []
    assert page_log.console_errors == []
    assert page_log.page_errors == []
