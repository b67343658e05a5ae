"""Logging in with the keyboard alone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests import factories

pytestmark = pytest.mark.browser


def focused(page: Page) -> dict:
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return {tag: e.tagName.toLowerCase(), id: e.id, type: e.type || '',"
        " text: (e.innerText || '').trim()}; }"
    )


def test_login_with_the_keyboard(page: Page, page_log, app):
    ws = factories.make_workspace("Acme Support")
    factories.make_user(ws, role="admin", name="Ann Admin", email="ann@acme.test")

    page.goto("/login")
    email = page.get_by_label("Email")
    expect(email).to_be_focused()  # autofocus: typing can start at once
    page.keyboard.type("ann@acme.test")

    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(factories.PASSWORD)

    page.keyboard.press("Tab")
    submit = page.get_by_role("button", name="Log in")
    expect(submit).to_be_focused()
    assert focused(page)["type"] == "submit"

    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/w/{ws.slug}/conversations$"))
    expect(page.get_by_role("heading", name="Conversations", level=1)).to_be_visible()
    expect(page.get_by_test_id("account-menu")).to_contain_text("Ann Admin")
    assert page_log.csp_violations() == []
    assert page_log.page_errors == []
