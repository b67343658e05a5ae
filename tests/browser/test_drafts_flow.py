""" "Nothing ships unsupervised" in a real browser (ARCHITECTURE §6, §10).

An admin mints a *Drafts for approval* token in Settings > MCP Server; the official `mcp`
client, speaking both protocol eras over real HTTP, drafts replies with it; teammates in their
own browser contexts approve, edit then approve, or reject with a reason; the agent reads the
outcomes back through `list_drafts` and `poll_events`. Two teammates racing on one draft get
one outcome; customer HTML stays text; the queue works by keyboard at 1280 and 390 px.
"""

from __future__ import annotations

import json
import re
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import anyio
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from deskwoot.extensions import db
from deskwoot.models import Conversation, Draft, McpToken, Message, User, Workspace
from deskwoot.policy import member_actor
from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.services.access import tokens
from tests import factories
from tests.browser.conftest import TIMEOUT_MS, VIEWPORT, PageLog, _reports, _slug, watch
from tests.mcp.conftest import connect

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DRAFTS_SCOPES = sorted(tokens.PRESETS["drafts"][1])
BOT_NAME = "OpenClaw triage bot"
INBOX_SECRET = "dw_in_drafts_flow_secret"
SENT = "Sent. The customer will receive it."
REJECTED = "Rejected; the bot will see your reason."
CONVERSATIONS_PATH = re.compile(r"/w/([^/]+)/conversations$")


# --- helpers ---------------------------------------------------------------------------------


def fresh() -> None:
    """End this process's read snapshot: the live server writes on its own connections."""
    db.session.rollback()
    db.session.expire_all()


def post_inbound(base_url: str, inbox, payload: dict) -> int:
    """A customer message through the inbound hook, over real HTTP; returns the display id."""
    request = urllib.request.Request(  # noqa: S310 (http://127.0.0.1 only)
        f"{base_url}/hooks/inbound/{inbox.uid}",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {INBOX_SECRET}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 201
        return json.loads(response.read())["conversation_id"]


def mcp_results(base_url: str, token: str, mode: str, *calls: tuple[str, dict]) -> list:
    """Call tools in order through the official client (`mode` = protocol era) over real
    HTTP, on one connection. Returns their CallToolResults."""

    async def main() -> list:
        async with connect(f"{base_url}/api/mcp", token, mode) as client:
            return [await client.call_tool(name, arguments) for name, arguments in calls]

    # Playwright's sync API keeps an asyncio loop on this thread: run the client on its own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(anyio.run, main).result(timeout=60)


def mcp_calls(base_url: str, token: str, mode: str, *calls: tuple[str, dict]) -> list[dict]:
    """As mcp_results, but each call must succeed; returns their structuredContent."""
    out = []
    for (name, _), result in zip(calls, mcp_results(base_url, token, mode, *calls), strict=True):
        assert not result.is_error, f"{name} failed: {result.structured_content}"
        out.append(result.structured_content)
    return out


def outgoing(conversation_display_id: int, workspace_id: int) -> list[Message]:
    """What the customer can see from us: the conversation's outgoing messages."""
    fresh()
    conversation = db.session.execute(
        select(Conversation).where(
            Conversation.workspace_id == workspace_id,
            Conversation.display_id == conversation_display_id,
        )
    ).scalar_one()
    return list(
        db.session.execute(
            select(Message)
            .where(Message.conversation_id == conversation.id, Message.kind == "outgoing")
            .order_by(Message.id)
        ).scalars()
    )


def login(page: Page, email: str) -> str:
    """Log in through the form; returns the workspace slug the app lands on."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(CONVERSATIONS_PATH)
    return CONVERSATIONS_PATH.search(page.url).group(1)


def flash(page: Page, text: str):
    """The flash saying `text` (flashes are role=status, errors role=alert)."""
    return page.get_by_role("status").filter(has_text=text)


def screenshot(page: Page, path) -> None:
    """A full-page screenshot from the top."""
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=path, full_page=True)


def no_horizontal_overflow(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def within_width(box, width: int) -> bool:
    return bool(box and box["width"] > 0 and box["x"] >= 0 and box["x"] + box["width"] <= width + 1)


def focused(page: Page) -> dict:
    """What has the keyboard focus: its text, tag, card and whether a focus ring is drawn."""
    return page.evaluate(
        """() => {
            const e = document.activeElement;
            const card = e.closest('[data-testid=draft-card]');
            const style = getComputedStyle(e);
            return {
                text: (e.innerText || e.value || '').trim(), tag: e.tagName.toLowerCase(),
                id: e.id, card: card ? card.dataset.draftId : null,
                ring: style.boxShadow !== 'none' || style.outlineStyle !== 'none',
            };
        }"""
    )


def tab_until(page: Page, text: str, limit: int = 40) -> list[str]:
    """Press Tab until the focused element's text is `text`; returns what was passed on the way."""
    passed = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        if now["text"] == text:
            return passed
        passed.append(now["text"] or f"<{now['tag']}#{now['id']}>")
    raise AssertionError(f"Tab never reached {text!r}; it went through {passed}")


def assert_clean(page_log: PageLog) -> None:
    assert page_log.dialogs == []
    assert page_log.csp_violations() == []
    assert page_log.console_errors == []
    assert page_log.page_errors == []


@pytest.fixture
def open_page(browser, live_server, page_log, artifacts, request):
    """More people at more browsers: each call is a fresh context (its own cookies) logging
    into the same `page_log`; failures save their screenshots as the `page` fixture does."""
    contexts = []

    def open_(viewport: dict = VIEWPORT) -> Page:
        context = browser.new_context(viewport=viewport, base_url=live_server)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return watch(context.new_page(), page_log)

    yield open_
    reports = request.node.stash.get(_reports, {})
    failed = any(r.failed for r in reports.values())
    for n, context in enumerate(contexts, start=2):
        if failed:
            name = f"FAILED-{_slug(request.node.nodeid)}-context{n}"
            try:
                context.pages[0].screenshot(path=artifacts / f"{name}.png", full_page=True)
            except Exception as error:  # keep the real failure
                print(f"could not save a failure screenshot: {error}")
        context.close()


# --- the admin's side: a token with the "Drafts for approval" preset ---------------------------


def admin_sets_up_the_bot(page: Page, live_server: str, artifacts=None) -> tuple[str, str]:
    """Sign up, switch the MCP server on, mint a drafts token; returns (slug, plaintext).

    Checks on the way that the token is shown once, with its connection URL and snippet, and
    is gone from the MCP Server page afterwards."""
    page.goto("/signup")
    page.get_by_label("Workspace name").fill("Acme Support")
    page.get_by_label("Your name").fill("Ann Admin")
    page.get_by_label("Work email").fill("ann@acme.test")
    page.get_by_label("Password").fill("a long enough password")
    page.get_by_role("button", name="Create workspace").click()
    expect(page).to_have_url(CONVERSATIONS_PATH)
    slug = CONVERSATIONS_PATH.search(page.url).group(1)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    settings_nav = page.get_by_role("navigation", name="Settings")
    settings_nav.get_by_role("link", name="MCP Server").click()
    expect(page.get_by_role("heading", name="MCP Server", level=1)).to_be_visible()
    page.get_by_role("switch", name="MCP server").click()
    expect(flash(page, "MCP server enabled")).to_be_visible()
    expect(page.get_by_role("switch", name="MCP server")).to_have_attribute("aria-checked", "true")

    page.get_by_label("Name").fill(BOT_NAME)
    page.get_by_text("Drafts for approval", exact=True).click()
    ticked = page.locator("input[name=scopes]:checked").evaluate_all("bs => bs.map(b => b.value)")
    assert sorted(ticked) == DRAFTS_SCOPES
    page.get_by_role("button", name="Mint token").click()

    # Shown once: a read-only box, the connection URL, and a snippet carrying it.
    expect(page.get_by_role("heading", name="Token minted")).to_be_visible()
    token_box = page.get_by_label("Bot token")
    expect(token_box).to_have_attribute("readonly", "")
    plaintext = token_box.input_value()
    assert re.fullmatch(r"dw_mcp_[0-9A-Za-z]{38}", plaintext), plaintext
    assert page.locator(f"input[value='{plaintext}']").count() == 1
    connection_url = f"{live_server}/api/mcp"
    expect(page.locator("#mcp-url")).to_have_text(connection_url)
    snippet = page.get_by_test_id("mcp-snippet").inner_text()
    assert snippet.count(plaintext) == 1
    assert json.loads(snippet) == {
        "mcpServers": {
            "deskwoot": {
                "url": connection_url,
                "headers": {"Authorization": f"Bearer {plaintext}"},
            }
        }
    }
    if artifacts is not None:
        screenshot(page, artifacts / "mcp-settings.png")

    # Revisit and reload the MCP Server page: only prefix…last4 is left.
    page.get_by_role("link", name="Done").click()
    expect(page.get_by_role("heading", name="MCP Server", level=1)).to_be_visible()
    for reload in (False, True):
        if reload:
            page.reload()
        expect(page.get_by_test_id("tokens")).to_contain_text(BOT_NAME)
        expect(page.get_by_test_id("tokens")).to_contain_text(f"{plaintext[:11]}…{plaintext[-4:]}")
        html = page.content()
        assert plaintext not in html
        assert plaintext[7:] not in html  # not even the secret part
    return slug, plaintext


def test_admin_sets_up_the_bot(page: Page, page_log, live_server, artifacts, app):
    slug, plaintext = admin_sets_up_the_bot(page, live_server, artifacts)

    # The display on the page is the stored prefix…last4, and the token works as minted.
    fresh()
    workspace = db.session.execute(select(Workspace).where(Workspace.slug == slug)).scalar_one()
    (token,) = db.session.execute(
        select(McpToken).where(McpToken.workspace_id == workspace.id)
    ).scalars()
    assert tokens.display(token) == f"{plaintext[:11]}…{plaintext[-4:]}"
    (whoami,) = mcp_calls(live_server, plaintext, "legacy", ("whoami", {}))
    assert whoami["workspace"]["slug"] == slug
    assert whoami["token"]["name"] == BOT_NAME
    assert whoami["token"]["scopes"] == DRAFTS_SCOPES
    assert_clean(page_log)
    assert page_log.bad_responses == []


# --- the teammates' side ---------------------------------------------------------------------


def test_bot_drafts_and_a_teammate_approves_with_edits(
    page: Page, page_log, live_server, artifacts, app, open_page
):
    slug, token = admin_sets_up_the_bot(page, live_server)
    fresh()
    workspace = db.session.execute(select(Workspace).where(Workspace.slug == slug)).scalar_one()
    inbox = factories.make_inbox(workspace, name="Support", secret=INBOX_SECRET)
    tom = factories.make_user(
        workspace, role="agent", inboxes=[inbox], name="Tom Teammate", email="tom@acme.test"
    )

    # Two customers write in over the inbound hook.
    order = post_inbound(
        live_server,
        inbox,
        {
            "contact": {"email": "jane@example.com", "name": "Jane Customer"},
            "subject": "Where is my order?",
            "content": "My order #1042 has not arrived.",
        },
    )
    refund = post_inbound(
        live_server,
        inbox,
        {
            "contact": {"email": "bob@example.com", "name": "Bob Buyer"},
            "subject": "Broken mug",
            "content": "The mug arrived in pieces. Refund please?",
        },
    )

    # The bot drafts a reply to each, once per protocol era.
    original = "Hi Jane, your order shipped yesterday and should arrive within 3 days."
    (first,) = mcp_calls(
        live_server,
        token,
        "legacy",
        (
            "create_draft_reply",
            {
                "conversation_id": order,
                "body": original,
                "note_to_reviewer": "Tracking says in transit.",
            },
        ),
    )
    (second,) = mcp_calls(
        live_server,
        token,
        "2026-07-28",
        (
            "create_draft_reply",
            {
                "conversation_id": refund,
                "body": "Sorry Bob! A refund is on its way.",
            },
        ),
    )
    assert (first["draft"]["outcome"], second["draft"]["outcome"]) == ("pending", "pending")

    # Nothing has reached either customer.
    assert outgoing(order, workspace.id) == []
    assert outgoing(refund, workspace.id) == []

    # The teammate, at their own browser, sees the badge and the queue, oldest first.
    teammate = open_page()
    login(teammate, "tom@acme.test")
    nav = teammate.get_by_role("navigation", name="Main")
    expect(teammate.get_by_test_id("drafts-badge")).to_have_text("2")
    nav.get_by_role("link", name="Drafts, 2 waiting").click()
    expect(teammate.get_by_role("heading", name=re.compile(r"^Drafts"), level=1)).to_be_visible()
    cards = teammate.get_by_test_id("draft-card")
    expect(cards).to_have_count(2)
    card = cards.first
    expect(card.get_by_test_id("draft-conversation")).to_contain_text("Where is my order?")
    expect(card).to_contain_text("Jane Customer")
    expect(card).to_contain_text("Support")
    customer_line = card.locator(".ctx-incoming")
    expect(customer_line.locator(".badge-customer")).to_have_text("Customer")
    expect(customer_line).to_contain_text("My order #1042 has not arrived.")
    expect(card.get_by_test_id("draft-body")).to_have_text(original)
    expect(card.locator(".draft-proposal .draft-bot")).to_have_text(BOT_NAME)
    expect(card.locator(".draft-proposal .badge-bot")).to_have_text("Bot")
    expect(card).to_contain_text("Tracking says in transit.")
    expect(cards.nth(1).get_by_test_id("draft-conversation")).to_contain_text("Broken mug")
    screenshot(teammate, artifacts / "drafts-queue.png")
    teammate.set_viewport_size(PHONE)
    assert no_horizontal_overflow(teammate), "the drafts queue scrolls sideways at 390 px"
    screenshot(teammate, artifacts / "drafts-queue-390.png")
    teammate.set_viewport_size(VIEWPORT)

    # Edit then approve.
    edited = "Hi Jane, your order shipped yesterday: tracking number PN1042. Sorry for the wait!"
    card.get_by_text("Edit then approve", exact=True).click()
    box = card.get_by_label("Reply to send to Jane Customer")
    expect(box).to_have_value(original)
    box.fill(edited)
    card.get_by_role("button", name="Send edited reply").click()
    expect(flash(teammate, SENT)).to_be_visible()
    expect(teammate.get_by_test_id("drafts-badge")).to_have_text("1")
    expect(teammate.get_by_test_id("draft-card")).to_have_count(1)
    expect(
        teammate.get_by_test_id("draft-card").get_by_test_id("draft-conversation")
    ).to_contain_text("Broken mug")

    # The thread shows the sent text, from the bot, approved by the teammate.
    teammate.goto(f"/w/{slug}/conversations/{order}")
    sent = teammate.get_by_test_id("thread").locator("li.msg-outgoing")
    expect(sent).to_have_count(1)
    expect(sent.locator(".msg-body")).to_have_text(edited)
    expect(sent.locator(".msg-author")).to_have_text(BOT_NAME)  # services/activity/actor_names.py
    expect(sent.locator(".badge-bot")).to_have_text("Bot")
    expect(sent.get_by_test_id("approved-by")).to_have_text("approved by Tom Teammate")
    expect(teammate.get_by_test_id("thread")).not_to_contain_text(original)
    expect(teammate.get_by_test_id("pending-drafts")).to_have_count(0)
    screenshot(teammate, artifacts / "drafts-approved-thread.png")

    (message,) = outgoing(order, workspace.id)
    assert (message.body, message.sender_type, message.approved_by_id) == (edited, "bot", tom.id)
    assert outgoing(refund, workspace.id) == []

    # The agent learns the outcome, in either era.
    (mine,) = mcp_calls(live_server, token, "legacy", ("list_drafts", {}))
    (theirs,) = mcp_calls(
        live_server, token, "2026-07-28", ("list_drafts", {"conversation_id": order})
    )
    by_id = {d["id"]: d for d in mine["drafts"]}
    done = by_id[first["draft"]["id"]]
    assert done["outcome"] == "approved_with_edits"
    assert done["final_body"] == edited
    assert done["body"] == original
    assert done["reviewer"]["name"] == "Tom Teammate"
    assert done["sent_message_id"] == message.id
    assert by_id[second["draft"]["id"]]["outcome"] == "pending"
    assert [d["outcome"] for d in theirs["drafts"]] == ["approved_with_edits"]

    assert_clean(page_log)
    assert page_log.bad_responses == []


# --- a workspace made directly, for the remaining flows --------------------------------------


@dataclass
class Desk:
    base_url: str
    workspace: Workspace
    inbox: object
    token: str  # Drafts for approval
    full_token: str  # Full agent: may also reply directly
    people: dict[str, User]

    @property
    def slug(self) -> str:
        return self.workspace.slug

    def customer_writes(
        self,
        content: str,
        name: str = "Jane Customer",
        email: str = "jane@example.com",
        subject: str = "Where is my order?",
    ):
        return post_inbound(
            self.base_url,
            self.inbox,
            {
                "contact": {"email": email, "name": name},
                "subject": subject,
                "content": content,
            },
        )

    def bot_drafts(self, display_id: int, body: str, mode: str = "legacy", **extra) -> int:
        (result,) = mcp_calls(
            self.base_url,
            self.token,
            mode,
            (
                "create_draft_reply",
                {
                    "conversation_id": display_id,
                    "body": body,
                    **extra,
                },
            ),
        )
        return result["draft"]["id"]

    def agent(self, mode: str, *calls: tuple[str, dict]) -> list[dict]:
        return mcp_calls(self.base_url, self.token, mode, *calls)


@pytest.fixture
def desk(app, live_server) -> Desk:
    """Acme Support: MCP on, a drafts token and a full one, an inbox worked by two teammates
    (agents)."""
    workspace = factories.make_workspace("Acme Support")
    admin = factories.make_user(workspace, role="admin", name="Ann Admin", email="ann@acme.test")
    admin_actor = member_actor(admin, workspace)
    mcp_settings.set_enabled(admin_actor, True)
    token = tokens.mint(admin_actor, BOT_NAME, DRAFTS_SCOPES).plaintext
    full_token = tokens.mint(admin_actor, "Autopilot", list(tokens.PRESETS["full"][1])).plaintext
    inbox = factories.make_inbox(workspace, name="Support", secret=INBOX_SECRET)
    people = {
        "tom": factories.make_user(
            workspace, inboxes=[inbox], name="Tom Teammate", email="tom@acme.test"
        ),
        "tia": factories.make_user(
            workspace, inboxes=[inbox], name="Tia Teammate", email="tia@acme.test"
        ),
    }
    return Desk(live_server, workspace, inbox, token, full_token, people)


def test_reject_with_a_reason(page: Page, page_log, desk):
    conversation = desk.customer_writes("Can I get a refund for order #1042?")
    draft_id = desk.bot_drafts(conversation, "Sure, reboot your router and try again.")

    login(page, "tom@acme.test")
    page.goto(f"/w/{desk.slug}/drafts")
    card = page.get_by_test_id("draft-card")
    expect(card).to_have_count(1)
    card.get_by_text("Reject", exact=True).click()
    reason_box = card.get_by_label("Why reject it?")
    expect(reason_box).to_be_visible()
    reject_url = re.compile(rf"/drafts/{draft_id}/reject$")

    # Empty: the browser itself refuses to send it.
    card.get_by_role("button", name="Reject draft").click()
    assert reason_box.evaluate("e => e.validity.valueMissing")
    expect(page).to_have_url(re.compile(r"/drafts$"))

    # Only blanks: the server refuses, keeps the panel open and says why.
    reason_box.fill("   ")
    card.get_by_role("button", name="Reject draft").click()
    expect(page).to_have_url(reject_url)
    card = page.get_by_test_id("draft-card")
    reason_box = card.get_by_label("Why reject it?")
    expect(reason_box).to_be_visible()
    expect(reason_box).to_have_attribute("aria-invalid", "true")
    expect(card.locator(".field-error")).to_contain_text("Give a reason")
    fresh()
    assert db.session.get(Draft, draft_id).status == "pending"
    assert outgoing(conversation, desk.workspace.id) == []
    assert page_log.bad_responses == [f"422 {page.url}"]
    assert [m for m in page_log.console_errors if "422" not in m] == []
    page_log.console_errors.clear()  # Chromium logs the 422 itself; nothing else went wrong

    # With a reason: rejected, nothing sent, the queue is empty.
    reason = "Wrong topic: she asked for a refund, not tech support."
    reason_box.fill(reason)
    card.get_by_role("button", name="Reject draft").click()
    expect(flash(page, REJECTED)).to_be_visible()
    expect(page.get_by_test_id("drafts-empty")).to_be_visible()
    expect(page.get_by_test_id("drafts-badge")).to_have_count(0)
    assert outgoing(conversation, desk.workspace.id) == []

    # The agent reads the outcome and the event, in either era.
    drafts, events = desk.agent(
        "legacy", ("list_drafts", {}), ("poll_events", {"types": ["draft.rejected"]})
    )
    (modern,) = desk.agent("2026-07-28", ("list_drafts", {"status": "rejected"}))
    (mine,) = drafts["drafts"]
    assert (mine["id"], mine["outcome"], mine["rejection_reason"]) == (draft_id, "rejected", reason)
    assert mine["reviewer"]["name"] == "Tom Teammate"
    assert mine["final_body"] is None
    assert [d["id"] for d in modern["drafts"]] == [draft_id]
    (event,) = events["events"]
    assert event["type"] == "draft.rejected"
    assert event["conversation_id"] == conversation
    assert event["data"]["reason"] == reason
    assert event["data"]["draft_id"] == draft_id
    assert event["actor"]["name"] == "Tom Teammate"
    assert_clean(page_log)


def test_two_teammates_approve_at_once(page: Page, page_log, desk, open_page):
    conversation = desk.customer_writes("Is the blue mug back in stock?")
    draft_id = desk.bot_drafts(conversation, "Yes! The blue mug is back in stock.")

    tom, tia = page, open_page()
    login(tom, "tom@acme.test")
    login(tia, "tia@acme.test")
    for teammate in (tom, tia):
        teammate.goto(f"/w/{desk.slug}/drafts")
        expect(teammate.get_by_test_id("draft-card")).to_have_count(1)

    # Both press Approve: neither waits for its own page before the other clicks.
    tom.get_by_role("button", name="Approve and send").click(no_wait_after=True)
    tia.get_by_role("button", name="Approve and send").click(no_wait_after=True)
    for teammate in (tom, tia):
        expect(teammate.locator(".flash")).to_be_visible()
        expect(teammate).to_have_url(re.compile(r"/drafts$"))
        expect(teammate.get_by_test_id("drafts-empty")).to_be_visible()
    said = {
        name: p.locator(".flash").inner_text().strip()
        for name, p in (("Tom Teammate", tom), ("Tia Teammate", tia))
    }

    # Exactly one message went out; the other teammate is told who beat them to it.
    (message,) = outgoing(conversation, desk.workspace.id)
    fresh()
    draft = db.session.get(Draft, draft_id)
    winner = db.session.get(User, draft.reviewer_id).name
    (loser,) = set(said) - {winner}
    assert draft.status == "approved" and draft.sent_message_id == message.id
    assert message.approved_by_id == draft.reviewer_id
    assert said[winner] == SENT
    assert said[loser] == f"Already handled by {winner} (approved)."
    assert_clean(page_log)
    assert page_log.bad_responses == []


EVIL_NAME = 'Mallory <img src=x onerror=alert("name")> "Customer"'
EVIL_SUBJECT = "<i>Order</i> <script>alert('subject')</script>"
EVIL_MESSAGE = (
    "Help! <img src=x onerror=alert(1)> <script>alert(2)</script> "
    '<a href="javascript:alert(3)">track my parcel</a> or javascript:alert(3)'
)
EVIL_DRAFT = "We are on it: <b>bold</b> <img src=x onerror=alert(4)> <script>alert(5)</script>"
EVIL_NOTE = "<a href='javascript:alert(6)'>reviewer</a>"


def assert_inert(page: Page) -> None:
    """None of the payloads turned into markup."""
    for selector in (
        "img[src='x']",
        "script:not([src])",
        "a[href^='javascript']",
        "[onerror]",
        "b",
        "i",
    ):
        assert page.locator(selector).count() == 0, f"{selector} made it into the page"


def test_customer_html_stays_text(page: Page, page_log, desk, artifacts):
    conversation = desk.customer_writes(
        EVIL_MESSAGE, name=EVIL_NAME, email="mallory@example.com", subject=EVIL_SUBJECT
    )
    desk.bot_drafts(conversation, EVIL_DRAFT, note_to_reviewer=EVIL_NOTE)

    login(page, "tom@acme.test")
    page.goto(f"/w/{desk.slug}/drafts")
    card = page.get_by_test_id("draft-card")
    expect(card).to_have_count(1)
    expect(card.get_by_test_id("draft-conversation")).to_contain_text(EVIL_SUBJECT)
    expect(card.locator(".draft-meta")).to_contain_text(EVIL_NAME)
    expect(card.locator(".ctx-incoming .ctx-body")).to_have_text(EVIL_MESSAGE)
    expect(card.locator(".ctx-incoming .ctx-who")).to_have_text(EVIL_NAME)
    expect(card.get_by_test_id("draft-body")).to_have_text(EVIL_DRAFT)
    expect(card).to_contain_text(EVIL_NOTE)
    expect(card.get_by_label(f"Reply to send to {EVIL_NAME}")).to_be_attached()
    assert_inert(page)
    screenshot(page, artifacts / "drafts-queue-xss.png")

    card.get_by_test_id("draft-conversation").click()
    expect(page).to_have_url(re.compile(rf"/conversations/{conversation}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(EVIL_SUBJECT)
    incoming = page.get_by_test_id("thread").locator("li.msg-incoming")
    expect(incoming.locator(".msg-body")).to_have_text(EVIL_MESSAGE)
    expect(incoming.locator(".msg-author")).to_have_text(EVIL_NAME)
    inline = page.get_by_test_id("pending-drafts").get_by_test_id("draft-card")
    expect(inline.get_by_test_id("draft-body")).to_have_text(EVIL_DRAFT)
    expect(inline).to_contain_text(EVIL_NOTE)
    assert_inert(page)
    assert page.title().startswith(f"#{conversation} {EVIL_SUBJECT}")
    screenshot(page, artifacts / "drafts-conversation-xss.png")

    assert_clean(page_log)
    assert page_log.bad_responses == []


@pytest.mark.parametrize("viewport", [VIEWPORT, PHONE], ids=["1280", "390"])
def test_queue_by_keyboard(page: Page, page_log, desk, artifacts, viewport):
    page.set_viewport_size(viewport)
    first_conv = desk.customer_writes("My order #1042 has not arrived.")
    second_conv = desk.customer_writes(
        "Do you ship to Norway?", name="Nils Nordmann", email="nils@example.com", subject="Shipping"
    )
    first = desk.bot_drafts(first_conv, "Sorry Jane! Your order ships today.")
    desk.bot_drafts(second_conv, "Yes, we ship to Norway.", mode="2026-07-28")

    login(page, "tom@acme.test")
    page.goto(f"/w/{desk.slug}/drafts")
    expect(page.get_by_test_id("draft-card")).to_have_count(2)
    width = viewport["width"]
    assert no_horizontal_overflow(page), f"the drafts queue scrolls sideways at {width} px"
    screenshot(page, artifacts / f"drafts-queue-keyboard-{width}.png")

    # From the top of the page, Tab reaches the first card's three actions, in order.
    page.locator("body").focus()
    tab_until(page, "Approve and send")
    approve = focused(page)
    page.keyboard.press("Tab")
    edit = focused(page)
    page.keyboard.press("Tab")
    reject = focused(page)
    assert [approve["text"], edit["text"], reject["text"]] == [
        "Approve and send",
        "Edit then approve",
        "Reject",
    ]
    assert {approve["card"], edit["card"], reject["card"]} == {str(first)}
    assert approve["ring"] and edit["ring"] and reject["ring"], "no visible focus ring"
    card = page.locator(f"[data-draft-id='{first}']")
    for name in ("Approve and send", "Edit then approve", "Reject"):
        control = card.get_by_text(name, exact=True)
        assert within_width(control.bounding_box(), width), (name, control.bounding_box())

    # Reject opens by keyboard, straight into its labelled box.
    page.keyboard.press("Enter")
    expect(card.get_by_label("Why reject it?")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    assert focused(page)["text"] == "Reject"
    page.keyboard.press("Enter")  # close it again
    expect(card.get_by_label("Why reject it?")).to_be_hidden()

    # Edit then approve, all by keyboard: open (the cursor lands in the reply), type,
    # Ctrl+Enter sends.
    page.keyboard.press("Shift+Tab")
    assert focused(page)["text"] == "Edit then approve"
    page.keyboard.press("Enter")
    box = card.get_by_label("Reply to send to Jane Customer")
    expect(box).to_be_focused()
    assert within_width(box.bounding_box(), width), box.bounding_box()
    assert no_horizontal_overflow(page)
    page.keyboard.press("End")
    page.keyboard.type(" Tracking: PN1042.")
    page.keyboard.press("Control+Enter")
    expect(flash(page, SENT)).to_be_visible()
    expect(page.get_by_test_id("draft-card")).to_have_count(1)
    (message,) = outgoing(first_conv, desk.workspace.id)
    assert message.body == "Sorry Jane! Your order ships today. Tracking: PN1042."
    assert no_horizontal_overflow(page)

    assert_clean(page_log)
    assert page_log.bad_responses == []


def test_take_over_on_the_conversation_page(page: Page, page_log, desk, artifacts):
    conversation = desk.customer_writes("I want to talk to a person, please.")
    first = desk.bot_drafts(conversation, "Hi! I am the bot; how can I help?")

    # The draft waits above the reply box, not flagged yet.
    login(page, "tom@acme.test")
    page.goto(f"/w/{desk.slug}/conversations/{conversation}")
    inline = page.get_by_test_id("pending-drafts").get_by_test_id("draft-card")
    expect(inline).to_have_count(1)
    expect(inline).to_contain_text("Draft reply waiting for approval")
    reply_box = page.get_by_role("textbox", name=re.compile(r"^Reply to"))
    assert inline.bounding_box()["y"] < reply_box.bounding_box()["y"]
    expect(inline.get_by_test_id("stale-badge")).to_have_count(0)

    # Take over: the handoff shows in the thread header, the sidebar and the list...
    page.get_by_role("button", name="Take over").click()
    expect(flash(page, "You have taken over")).to_be_visible()
    expect(page.locator(".conv-sub .badge-human")).to_have_text("Human")
    expect(page.get_by_test_id("handoff")).to_contain_text("A teammate has taken over")
    # ...and the waiting draft is flagged as possibly stale.
    expect(inline.get_by_test_id("stale-badge")).to_have_text("Possibly stale")
    expect(inline.get_by_test_id("stale-reason")).to_contain_text("Taken over by")

    # The bot may not reply now, but notes and drafts are still welcome.
    refused, note, draft = mcp_results(
        desk.base_url,
        desk.full_token,
        "2026-07-28",
        (
            "reply_to_conversation",
            {"conversation_id": conversation, "body": "Bot here!", "idempotency_key": "reply-1"},
        ),
        ("add_private_note", {"conversation_id": conversation, "body": "Customer wants a human."}),
        ("create_draft_reply", {"conversation_id": conversation, "body": "A human is coming."}),
    )
    assert refused.is_error
    assert "taken over" in json.loads(refused.content[0].text)["error"]["message"]
    assert not note.is_error and not draft.is_error
    assert outgoing(conversation, desk.workspace.id) == []

    page.reload()
    expect(inline).to_have_count(2)
    expect(page.get_by_test_id("stale-badge")).to_have_count(2)
    expect(page.get_by_test_id("thread").locator("li.msg-note")).to_contain_text(
        "Customer wants a human."
    )
    screenshot(page, artifacts / "drafts-conversation-taken-over.png")

    # Approve inline: back on the conversation page, the message sent as the bot.
    page.locator(f"[data-draft-id='{first}']").get_by_role(
        "button", name="Approve and send"
    ).click()
    expect(flash(page, SENT)).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/conversations/{conversation}$"))
    sent = page.get_by_test_id("thread").locator("li.msg-outgoing")
    expect(sent.locator(".msg-body")).to_have_text("Hi! I am the bot; how can I help?")
    expect(sent.get_by_test_id("approved-by")).to_have_text("approved by Tom Teammate")
    expect(inline).to_have_count(1)

    page.get_by_role("link", name="← Conversations").click()
    expect(
        page.get_by_test_id(f"conversation-{conversation}").locator(".badge-human")
    ).to_have_text("Human")

    # Hand back: the bot may reply again.
    page.get_by_test_id(f"conversation-{conversation}").click()
    page.get_by_role("button", name="Hand back to bot").click()
    expect(flash(page, "Handed back to the bot.")).to_be_visible()
    expect(page.locator(".conv-sub .badge-human")).to_have_count(0)
    mcp_calls(
        desk.base_url,
        desk.full_token,
        "legacy",
        (
            "reply_to_conversation",
            {
                "conversation_id": conversation,
                "body": "Bot here again!",
                "idempotency_key": "reply-2",
            },
        ),
    )
    assert [m.body for m in outgoing(conversation, desk.workspace.id)] == [
        "Hi! I am the bot; how can I help?",
        "Bot here again!",
    ]

    assert_clean(page_log)
    assert page_log.bad_responses == []
