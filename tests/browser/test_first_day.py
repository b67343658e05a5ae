"""A newcomer's first day in a real browser: sign up, make an inbox, get a customer message over
real HTTP, reply, note, resolve. Then the same conversation on a 390 px wide phone screen."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from deskwoot.policy import member_actor
from deskwoot.services.conversations import workflow as conversation_service
from tests import factories

pytestmark = pytest.mark.browser

# Customer text that would run script if it were not escaped.
EVIL_NAME = "Jane <img src=x onerror=alert(1)>"
EVIL_CONTENT = (
    "Hi! My order #1042 has not arrived. <script>alert(2)</script>"
    "<img src=x onerror=alert(3)> <b>please help</b>"
)
CONVERSATIONS_PATH = re.compile(r"/w/[^/]+/conversations$")
PHONE = {"width": 390, "height": 844}


def post_inbound(url: str, secret: str, payload: dict) -> tuple[int, dict]:
    """Send a customer message the way an integration would: JSON over real HTTP."""
    request = urllib.request.Request(  # noqa: S310 (http://127.0.0.1 only)
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.status, json.loads(response.read())


def flash(page: Page, text: str):
    """The flash message saying `text` (flashes are role=status, errors role=alert)."""
    return page.get_by_role("status").filter(has_text=text)


def full_screenshot(page: Page, path) -> None:
    """A full-page screenshot from the top (a scrolled page would draw the sticky bar mid-page)."""
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=path, full_page=True)


def within_phone_width(box) -> bool:
    """A visible box that starts and ends inside the 390 px wide screen."""
    return bool(
        box
        and box["width"] > 0
        and box["height"] > 0
        and box["x"] >= 0
        and box["x"] + box["width"] <= PHONE["width"] + 1
    )


def no_horizontal_overflow(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_first_day(page: Page, page_log, live_server, artifacts):
    # Sign up.
    page.goto("/signup")
    expect(page.get_by_role("heading", name="Create your help desk")).to_be_visible()
    full_screenshot(page, artifacts / "signup.png")
    page.get_by_label("Workspace name").fill("Acme Support")
    page.get_by_label("Your name").fill("Ann Admin")
    page.get_by_label("Work email").fill("ann@acme.test")
    page.get_by_label("Password").fill("a long enough password")
    page.get_by_role("button", name="Create workspace").click()

    # The empty workspace: no conversations, a way forward.
    expect(page).to_have_url(CONVERSATIONS_PATH)
    expect(flash(page, "Welcome to Deskwoot")).to_be_visible()
    empty = page.get_by_test_id("empty-state")
    expect(empty).to_be_visible()
    expect(empty).to_contain_text("No inboxes yet")
    expect(page.get_by_test_id("conversation-list")).to_have_count(0)
    # Nothing to filter yet: no status tabs, filters or search above the way forward.
    expect(page.get_by_test_id("tab-all")).to_have_count(0)
    expect(page.get_by_test_id("filters")).to_have_count(0)
    expect(page.get_by_role("search")).to_have_count(0)
    expect(page.get_by_test_id("trial-banner")).to_contain_text("Enterprise trial")
    full_screenshot(page, artifacts / "workspace-empty.png")

    # Settings → Inboxes → new inbox "Support".
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Inboxes").click()
    expect(page.get_by_role("heading", name="Inboxes", exact=True)).to_be_visible()
    page.get_by_label("Inbox name").fill("Support")
    page.get_by_role("checkbox", name="Ann Admin").check()
    page.get_by_role("button", name="Create inbox").click()

    # The URL and the secret, shown once.
    expect(page.get_by_role("heading", name="Inbox created")).to_be_visible()
    inbound_url = page.locator("#inbound-url").inner_text().strip()
    secret = page.get_by_test_id("inbox-secret").inner_text().strip()
    assert re.fullmatch(re.escape(live_server) + r"/hooks/inbound/\w+", inbound_url)
    assert secret.startswith("dw_in_")
    expect(page.locator("#curl-example")).to_contain_text(secret)
    full_screenshot(page, artifacts / "inbox-created.png")

    # A customer writes in, over real HTTP, with markup in the name and the message.
    status, body = post_inbound(
        inbound_url,
        secret,
        {
            "contact": {"email": "jane@example.com", "name": EVIL_NAME},
            "content": EVIL_CONTENT,
            "subject": "Where is my order?",
            "source_id": "msg-1",
        },
    )
    assert (status, body["conversation_id"], body["duplicate"]) == (201, 1, False)

    # It shows in the list, escaped.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Conversations").click()
    expect(page).to_have_url(CONVERSATIONS_PATH)
    row = page.get_by_test_id("conversation-1")
    expect(row).to_be_visible()
    expect(row).to_contain_text(EVIL_NAME)
    expect(row).to_contain_text("Where is my order?")
    expect(page.get_by_test_id("tab-open")).to_contain_text("1")
    assert page.locator("img[src='x'], script:not([src])").count() == 0
    full_screenshot(page, artifacts / "conversations.png")

    # Open it.
    row.click()
    expect(page).to_have_url(re.compile(r"/conversations/1(#.*)?$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Where is my order?")
    thread = page.get_by_test_id("thread")
    incoming = thread.locator("li.msg-incoming")
    expect(incoming).to_have_count(1)
    expect(incoming).to_contain_text(EVIL_CONTENT)
    expect(incoming).to_contain_text(EVIL_NAME)
    assert page.locator("img[src='x'], script:not([src])").count() == 0

    # Reply: it lands in the thread as an outgoing message from me.
    reply_text = "Sorry about that, Jane! Your parcel ships today."
    page.get_by_role("textbox", name=re.compile(r"^Reply to")).fill(reply_text)
    page.get_by_role("button", name="Send reply").click()
    expect(flash(page, "Reply sent.")).to_be_visible()
    outgoing = thread.locator("li.msg-outgoing", has_text=reply_text)
    expect(outgoing).to_be_visible()
    expect(outgoing).to_contain_text("Ann Admin")
    expect(outgoing.get_by_text("Private note")).to_have_count(0)

    # A private note: shown, and set apart from the reply.
    note_text = "Checked with the warehouse: the label was never printed."
    page.get_by_test_id("tab-note").click()
    page.get_by_role("textbox", name="Private note").fill(note_text)
    page.get_by_role("button", name="Add note").click()
    expect(flash(page, "Private note added.")).to_be_visible()
    note = thread.locator("li.msg-note", has_text=note_text)
    expect(note).to_be_visible()
    expect(note.get_by_text("Private note", exact=True)).to_be_visible()
    note_bg = note.locator(".msg-bubble").evaluate("e => getComputedStyle(e).backgroundColor")
    reply_bg = outgoing.locator(".msg-bubble").evaluate("e => getComputedStyle(e).backgroundColor")
    assert note_bg != reply_bg, "a private note must look different from a reply"
    expect(thread.locator("li.msg")).to_have_count(3)

    # Resolve: the status says so, and the Open tab no longer lists it.
    page.get_by_role("button", name="Resolve").click()
    expect(flash(page, "Conversation resolved.")).to_be_visible()
    expect(page.locator(".conv-sub .badge-status")).to_have_text("Resolved")
    expect(page.get_by_label("Status", exact=True)).to_have_value("resolved")
    expect(page.get_by_role("button", name="Reopen")).to_be_visible()
    full_screenshot(page, artifacts / "conversation.png")

    page.get_by_role("link", name="← Conversations").click()
    expect(page.get_by_test_id("tab-open")).to_have_attribute("aria-current", "page")
    expect(page.get_by_test_id("conversation-1")).to_have_count(0)
    expect(page.get_by_test_id("empty-state")).to_contain_text("All clear")
    page.get_by_test_id("tab-resolved").click()
    expect(page.get_by_test_id("conversation-1")).to_be_visible()

    # Nothing ran that should not have, and the CSP had nothing to block.
    assert page_log.dialogs == []
    assert page_log.csp_violations() == []
    assert page_log.console_errors == []
    assert page_log.page_errors == []
    assert page_log.bad_responses == []


@pytest.fixture
def seeded(app):
    """A workspace with one busy conversation, made directly in the database."""
    ws = factories.make_workspace("Acme Support")
    admin = factories.make_user(ws, role="admin", name="Ann Admin", email="ann@acme.test")
    inbox = factories.make_inbox(ws, name="Support", members=[admin])
    contact = factories.make_contact(ws, name="Jane Customer", email="jane@example.com")
    conversation = factories.make_conversation(
        inbox,
        contact,
        subject="Where is my order?",
        content=(
            "Hi! My order #1042 has not arrived. The tracking page says "
            "https://shop.example.com/orders/1042/tracking?carrier=postnord&reference="
            "PN00000000000000000000000000000000000000001042 and nothing else."
        ),
    )
    actor = member_actor(admin, ws)
    conversation_service.reply(actor, conversation.display_id, "Sorry! Looking into it now.")
    conversation_service.add_note(actor, conversation.display_id, "Warehouse says: no label.")
    return {"workspace": ws, "admin": admin, "conversation": conversation}


def login(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(CONVERSATIONS_PATH)


def test_narrow_screen(page: Page, page_log, seeded, artifacts):
    page.set_viewport_size(PHONE)
    login(page, "ann@acme.test")

    # The list: the conversation is there and nothing sticks out sideways.
    row = page.get_by_test_id(f"conversation-{seeded['conversation'].display_id}")
    expect(row).to_be_visible()
    assert within_phone_width(row.bounding_box()), row.bounding_box()
    assert no_horizontal_overflow(page), "the conversation list scrolls sideways at 390 px"
    full_screenshot(page, artifacts / "conversations-390.png")
    for tab in ("open", "pending", "snoozed", "resolved", "all"):  # the strip may scroll
        page.get_by_test_id(f"tab-{tab}").scroll_into_view_if_needed()
        expect(page.get_by_test_id(f"tab-{tab}")).to_be_in_viewport()
    assert no_horizontal_overflow(page)

    # The conversation: the reply box can be reached and used.
    row.click()
    expect(page.get_by_test_id("thread").locator("li.msg")).to_have_count(3)
    reply_box = page.get_by_role("textbox", name=re.compile(r"^Reply to"))
    reply_box.scroll_into_view_if_needed()
    expect(reply_box).to_be_visible()
    expect(reply_box).to_be_in_viewport()
    assert within_phone_width(reply_box.bounding_box()), reply_box.bounding_box()
    assert no_horizontal_overflow(page), "the conversation page scrolls sideways at 390 px"
    send = page.get_by_role("button", name="Send reply")
    send.scroll_into_view_if_needed()
    assert within_phone_width(send.bounding_box()), send.bounding_box()
    full_screenshot(page, artifacts / "conversation-390.png")

    # And it works from there.
    reply_box.fill("Your parcel ships today.")
    send.click()
    expect(flash(page, "Reply sent.")).to_be_visible()
    assert no_horizontal_overflow(page)

    assert page_log.dialogs == []
    assert page_log.csp_violations() == []
    assert page_log.page_errors == []
