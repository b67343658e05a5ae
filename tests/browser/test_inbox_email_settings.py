"""Settings → Inboxes in a real browser: open an email inbox's settings from the list, fill in
its address and SMTP server, save (the password is shown masked, never in an input), press
"Send a test" and read where it went; the SMTP sink received it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from deskwoot.services.directory import inboxes
from tests import factories

# The real mail servers' fixtures, found by name (asked for through `request`).
from tests.mail_servers import make_smtp_sink  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.mail]


@pytest.fixture
def mail_inbox(app):
    ws = factories.make_workspace("Acme Support")
    admin = factories.make_user(ws, role="admin", name="Ann Admin", email="ann@acme.test")
    inbox, _ = inboxes.create_inbox(factories.actor_for(admin, ws), "Support Mail", "email")
    return ws, inbox


def test_fill_the_email_settings_and_send_a_test(
    page: Page, page_log, mail_inbox, request, artifacts
):
    ws, inbox = mail_inbox
    sink = request.getfixturevalue("make_smtp_sink")(auth=("ann", "Sm7p-s3cret"))
    page.goto("/login")
    page.get_by_label("Email").fill("ann@acme.test")
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/conversations$"))

    page.goto(f"/w/{ws.slug}/settings/inboxes")
    page.get_by_test_id(f"inbox-settings-{inbox.id}").click()
    expect(page).to_have_url(re.compile(rf"/settings/inboxes/{inbox.id}$"))
    form = page.locator("#email-form")
    form.get_by_label("Email address").fill("support@acme.test")
    form.get_by_role("textbox", name="SMTP server").fill(
        f"smtp://ann:Sm7p-s3cret@{sink.host}:{sink.port}"
    )
    form.get_by_role("button", name="Save email settings").click()

    expect(page.get_by_role("status")).to_contain_text("Email settings of Support Mail saved.")
    expect(page.get_by_test_id("saved-smtp")).to_have_text(
        f"smtp://ann:••••@{sink.host}:{sink.port}"
    )
    assert "Sm7p-s3cret" not in page.content()
    expect(form.get_by_role("textbox", name="SMTP server")).to_have_value("")

    page.get_by_test_id("send-test").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Send a test: Sent to ann@acme.test via {sink.host}:{sink.port}."
    )
    [received] = sink.wait_for(1)
    assert received.login == "ann" and received.rcpt_tos == ("ann@acme.test",)
    assert received.parsed()["Subject"] == "Deskwoot test from Support Mail"

    sink.fail_next(1, 550, "5.7.1 Relaying denied")
    page.get_by_test_id("send-test").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Send a test: The mail server refused the message: 550 5.7.1 Relaying denied."
    )
    page.screenshot(path=artifacts / "inbox-email-settings.png", full_page=True)
    assert not page_log.page_errors and not page_log.csp_violations()
