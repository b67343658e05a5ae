"""In Chromium: a teammate attaches a file to a reply, sees it listed on the sent message and
downloads it; the reply's webhook answers 410, the page says Not delivered with the reason,
and the Retry button sends it again — delivered the second time."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from deskwoot.delivery.worker import Worker
from deskwoot.extensions import db
from tests import factories
from tests.delivery.desk import (
    Desk,
    app_config,  # noqa: F401 (a fixture: retries due at once)
)
from tests.delivery.receiver import Answer, Receiver

pytestmark = pytest.mark.browser


def test_reply_with_a_file_then_retry_a_failed_delivery(app, page: Page, page_log, tmp_path):
    with Receiver(Answer(410), Answer(200)) as receiver:
        desk = Desk(receiver.url)
        conversation = factories.make_conversation(desk.inbox, subject="Lost parcel")
        slug, number = desk.workspace.slug, conversation.display_id
        page.goto("/login")
        page.get_by_label("Email").fill(desk.agent.email)
        page.get_by_label("Password").fill(factories.PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(re.compile(r"/conversations$"))

        page.goto(f"/w/{slug}/conversations/{number}")
        page.locator("#reply-body").fill("Here is your shipping label.")
        page.get_by_test_id("reply-attachments").set_input_files(
            {"name": "label.txt", "mimeType": "text/plain", "buffer": b"SHIP TO: Jane"}
        )
        page.get_by_role("button", name="Send reply").click()
        expect(page.get_by_text("Reply sent.")).to_be_visible()

        sent = page.get_by_test_id("message").filter(has_text="Here is your shipping label.")
        link = sent.get_by_test_id("attachment-link")
        expect(link).to_have_text("label.txt")
        expect(sent.get_by_test_id("attachment")).to_contain_text("text/plain · 13 Bytes")
        expect(sent.get_by_test_id("delivery-label")).to_have_text("Sending…")
        with page.expect_download() as download:
            link.click()
        assert download.value.suggested_filename == "label.txt"
        assert Path(download.value.path()).read_bytes() == b"SHIP TO: Jane"

        db.session.rollback()  # the live server wrote the reply on its own connection
        Worker(app).run(once=True)
        page.reload()
        delivery = sent.get_by_test_id("delivery-label")
        expect(delivery).to_have_text("Not delivered: HTTP 410 (after 1 attempt)")
        sent.get_by_test_id("retry-delivery").click()
        expect(page.get_by_text("Sending it again.")).to_be_visible()
        expect(delivery).to_have_text("Sending…")
        expect(sent.get_by_test_id("retry-delivery")).to_have_count(0)

        db.session.rollback()
        Worker(app).run(once=True)
        page.reload()
        expect(delivery).to_have_text("Sent")
    assert len(receiver.requests) == 2
    assert {r.headers["webhook-id"] for r in receiver.requests} == {
        receiver.requests[0].headers["webhook-id"]
    }
    assert not page_log.page_errors and not page_log.bad_responses
    assert not page_log.csp_violations()
