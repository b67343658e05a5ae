"""Issue 13 end to end, the teammates' way, in Chromium: a reply typed in the browser and a
bot's draft approved in the browser each reach the customer once, threaded under their mail,
and the customer's answer shows up in the conversation; a delivery the SMTP server refuses
shows "Not delivered" with the server's reason (in the page and to the agent), and Retry
sends it once the server takes it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_drafts_flow import login
from tests.e2e_email.desk import (
    ANSWER_TEXT,
    BOT,
    FIRST_ID,
    FIRST_TEXT,
    INBOX,
    TEAMMATE,
    Desk,
    answer_to,
    first_mail,
)

pytestmark = [pytest.mark.mail, pytest.mark.browser]

REFUSAL = "5.1.1 <john@example.com>: user unknown"
REASON = f"The mail server refused the message: 550 {REFUSAL}"


@pytest.fixture
def desk(app, live_server, sink, mailbox) -> Desk:
    return Desk(app, live_server, sink, mailbox)


def open_conversation(page: Page, desk: Desk, number: int) -> None:
    """Ada logs in and opens conversation #number."""
    assert login(page, desk.teammate.email) == desk.slug
    page.goto(f"/w/{desk.slug}/conversations/{number}")


def message_in(page: Page, text: str):
    return page.get_by_test_id("message").filter(has_text=text)


def answer_threads_back(desk: Desk, how: str, received) -> None:
    """John answers the mail he got; it joins his conversation with only his new text."""
    desk.arrive(how, answer_to(received, "<m2@example.com>"))
    [conversation] = desk.conversations()
    *_, ours, answer = desk.thread(conversation)
    assert (answer.kind, answer.body) == ("incoming", ANSWER_TEXT)
    assert answer.mail["in_reply_to"] == desk.message_id(ours)


def test_a_reply_typed_in_the_browser(desk, page: Page, page_log):
    desk.arrive("imap", first_mail())
    [conversation] = desk.conversations()
    open_conversation(page, desk, conversation.display_id)
    expect(message_in(page, FIRST_TEXT.splitlines()[-1])).to_have_count(1)

    reply = "Hi John, sorry about that: a new kettle ships today."
    page.locator("#reply-body").fill(reply)
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("Reply sent.")).to_be_visible()
    label = message_in(page, reply).get_by_test_id("delivery-label")
    expect(label).to_have_text("Sending…")

    assert desk.work() == 1
    [_, ours] = desk.thread(conversation)
    received = desk.sent_one(ours, sender=f"{TEAMMATE} from {INBOX}", in_reply_to=FIRST_ID)
    assert received.parsed()["Auto-Submitted"] is None  # a person wrote it

    answer_threads_back(desk, "imap", received)
    page.reload()
    expect(label).to_have_text("Sent")
    expect(message_in(page, ANSWER_TEXT)).to_have_count(1)
    assert not page_log.page_errors and not page_log.bad_responses


def test_a_draft_approved_in_the_browser(desk, page: Page, page_log):
    desk.arrive("pipe", first_mail())
    [conversation] = desk.conversations()
    draft = "Hi John, a new kettle ships today."
    [created] = desk.agent(
        ("create_draft_reply", {"conversation_id": conversation.display_id, "body": draft})
    )
    assert created["draft"]["status"] == "pending"
    assert desk.work() == 0  # nothing goes out before a person approves it
    assert desk.sink.messages() == []

    open_conversation(page, desk, conversation.display_id)
    page.goto(f"/w/{desk.slug}/drafts")
    card = page.get_by_test_id("draft-card")
    expect(card.get_by_test_id("draft-body")).to_have_text(draft)
    card.get_by_role("button", name="Approve and send").click()
    expect(page.get_by_test_id("drafts-empty")).to_be_visible()

    assert desk.work() == 1
    [_, ours] = desk.thread(conversation)
    assert (ours.body, ours.approved_by_id) == (draft, desk.teammate.id)
    received = desk.sent_one(ours, sender=BOT, in_reply_to=FIRST_ID)

    answer_threads_back(desk, "pipe", received)
    page.goto(f"/w/{desk.slug}/conversations/{conversation.display_id}")
    expect(message_in(page, draft).get_by_test_id("delivery-label")).to_have_text("Sent")
    expect(message_in(page, ANSWER_TEXT)).to_have_count(1)
    assert not page_log.page_errors and not page_log.bad_responses


def test_a_refused_delivery_shows_its_reason_and_retry_sends_it_once(desk, page: Page, page_log):
    desk.arrive("imap", first_mail())
    [conversation] = desk.conversations()
    number = conversation.display_id
    reply = "Hi John, a new kettle ships today."
    desk.agent(
        (
            "reply_to_conversation",
            {"conversation_id": number, "body": reply, "idempotency_key": "kettle"},
        )
    )

    desk.sink.fail_next(1, 550, REFUSAL)
    assert desk.work() == 1
    assert desk.sink.messages() == []
    open_conversation(page, desk, number)
    label = message_in(page, reply).get_by_test_id("delivery-label")
    expect(label).to_have_text(f"Not delivered: {REASON} (after 1 attempt)")
    [seen] = desk.agent(("get_conversation", {"conversation_id": number}))
    delivery = seen["messages"][-1]["delivery"]
    assert (delivery["status"], delivery["attempts"]) == ("failed", 1)
    assert delivery["last_error"] == REASON

    # The server takes mail again; the teammate retries.
    message_in(page, reply).get_by_test_id("retry-delivery").click()
    expect(page.get_by_text("Sending it again.")).to_be_visible()
    expect(label).to_have_text("Sending…")
    assert desk.work() == 1
    [_, ours] = desk.thread(conversation)
    desk.sent_one(ours, sender=BOT, in_reply_to=FIRST_ID)
    page.reload()
    expect(label).to_have_text("Sent")
    assert desk.work() == 0 and len(desk.sink.messages()) == 1
    [after] = desk.agent(("get_conversation", {"conversation_id": number}))
    assert after["messages"][-1]["delivery"]["status"] == "sent"
    assert not page_log.page_errors and not page_log.bad_responses
