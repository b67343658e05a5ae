"""The draft-approval queue in the browser (ARCHITECTURE §10): review, approve, edit, reject,
badge."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from deskwoot import policy
from deskwoot.extensions import db
from deskwoot.models import (
    AuditEntry,
    Conversation,
    Draft,
    Event,
    McpToken,
    Message,
    Outbox,
    Workspace,
)
from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.services.access import tokens as token_service
from deskwoot.services.conversations import drafts as draft_service
from deskwoot.services.conversations import inbound as inbound_service
from deskwoot.services.conversations import workflow as conversation_service
from tests import factories

TOKEN_RE = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def bot(desk):
    """The workspace's bot, acting through a freshly minted token named "Triage bot"."""
    admin = factories.actor_for(desk.admin, desk.workspace)
    mcp_settings.set_enabled(admin, True)
    minted = token_service.mint(admin, "Triage bot", ["conversations:draft", "conversations:read"])
    workspace = db.session.get(Workspace, desk.workspace.id)
    assert workspace.bot_user_id is not None
    return factories.bot_actor(workspace, token_id=minted.token.id)


def _draft(bot, conversation: Conversation, body: str, note: str | None = None) -> Draft:
    return draft_service.create_draft(bot, conversation.display_id, body, note)


def _fresh_draft(draft: Draft) -> Draft:
    db.session.rollback()  # end any read snapshot: the requests may use their own connection
    return db.session.get(Draft, draft.id)


def _outgoing(conversation: Conversation) -> list[Message]:
    db.session.rollback()  # end any read snapshot: the requests may use their own connection
    return list(
        db.session.execute(
            select(Message)
            .where(Message.conversation_id == conversation.id, Message.kind == "outgoing")
            .order_by(Message.id)
        ).scalars()
    )


def _events(kind: str) -> list[Event]:
    return list(
        db.session.execute(select(Event).where(Event.type == kind).order_by(Event.id)).scalars()
    )


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _approve_url(desk, draft: Draft, action: str = "approve") -> str:
    return desk.url(f"/drafts/{draft.id}/{action}")


# --- the queue -------------------------------------------------------------------------------


def test_queue_lists_pending_drafts_oldest_first(as_admin, desk, bot):
    second = factories.make_conversation(
        desk.support,
        factories.make_contact(desk.workspace, name="Bea Buyer"),
        content="Can I change my address?",
        subject="Address change",
    )
    oldest = _draft(
        bot, second, "Sure, what is the new address?", note="She emailed twice already."
    )
    newer = _draft(bot, desk.conversation, "Sorry about that, we will re-send it today.")
    in_sales = _draft(bot, desk.hidden, "Volume pricing starts at 50 seats.")

    page = _page(as_admin, desk.url("/drafts"))
    positions = [page.index(f'data-draft-id="{d.id}"') for d in (oldest, newer, in_sales)]
    assert positions == sorted(positions)
    # Each card: the conversation, its customer, inbox and latest messages, the draft, who wrote it.
    assert f"#{second.display_id}" in page and "Address change" in page
    assert "Bea Buyer" in page and "Support" in page and "Sales" in page
    assert "Can I change my address?" in page
    assert "Customer</span>" in page
    assert "Sure, what is the new address?" in page
    assert "She emailed twice already." in page
    assert "Triage bot" in page
    assert 'data-testid="stale-badge"' not in page
    assert f'action="/w/{desk.workspace.slug}/drafts/{oldest.id}/approve"' in page
    assert f'action="/w/{desk.workspace.slug}/drafts/{oldest.id}/reject"' in page
    assert f'for="draft-{oldest.id}-body"' in page and f'for="draft-{oldest.id}-reason"' in page
    assert "Sorry about that, we will re-send it today." in page


def test_queue_shows_only_drafts_from_inboxes_the_agent_works(as_agent, desk, bot):
    visible = _draft(bot, desk.conversation, "We are on it.")
    hidden = _draft(bot, desk.hidden, "Volume pricing starts at 50 seats.")

    page = _page(as_agent, desk.url("/drafts"))
    assert f'data-draft-id="{visible.id}"' in page
    assert f'data-draft-id="{hidden.id}"' not in page
    assert "Volume pricing" not in page

    for action, data in (("approve", {}), ("approve", {"body": "x"}), ("reject", {"reason": "no"})):
        response = as_agent.post(_approve_url(desk, hidden, action), data=data)
        assert response.status_code == 404, action
    assert _fresh_draft(hidden).status == "pending"
    assert _outgoing(desk.hidden) == []


def test_empty_queue_explains_itself(as_agent, desk):
    page = _page(as_agent, desk.url("/drafts"))
    assert (
        "No drafts waiting. When your AI agent drafts a reply, it shows up here for approval."
        in page
    )
    assert 'data-testid="draft-card"' not in page


def test_nav_badge_counts_pending_drafts_on_every_page(client, auth, desk, bot):
    auth.login(desk.agent.email)
    page = _page(client, desk.url("/conversations"))
    assert 'data-testid="nav-drafts"' in page
    assert 'data-testid="drafts-badge"' not in page  # nothing waiting: no number

    _draft(bot, desk.conversation, "We are on it.")
    other = factories.make_conversation(desk.support, content="Where is my invoice?")
    _draft(bot, other, "Here it is.")
    _draft(bot, desk.hidden, "Not for the agent's eyes.")

    for path in (
        "/conversations",
        "/contacts",
        "/drafts",
        f"/conversations/{desk.conversation.display_id}",
    ):
        page = _page(client, desk.url(path))
        assert 'aria-label="Drafts, 2 waiting"' in page, path
        assert re.search(r'data-testid="drafts-badge"[^>]*>2<', page), path

    auth.logout()
    auth.login(desk.admin.email)
    assert 'aria-label="Drafts, 3 waiting"' in _page(client, desk.url("/contacts"))


# --- approving -------------------------------------------------------------------------------


def test_approve_sends_the_draft_as_the_bot(as_admin, desk, bot):
    draft = _draft(bot, desk.conversation, "Sorry! A new parcel is on its way.")

    response = as_admin.post(_approve_url(desk, draft))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(desk.url("/drafts"))
    page = _page(as_admin, desk.url("/drafts"))
    assert "Sent. The customer will receive it." in page
    assert f'data-draft-id="{draft.id}"' not in page

    [message] = _outgoing(desk.conversation)
    workspace = db.session.get(Workspace, desk.workspace.id)
    assert message.body == "Sorry! A new parcel is on its way."
    assert message.sender_type == "bot"
    assert message.sender_user_id == bot.user_id
    assert message.approved_by_id == desk.admin.id
    assert message.token_id == bot.token_id
    assert workspace.bot_user_id is not None
    assert (
        db.session.execute(
            select(func.count()).select_from(Outbox).where(Outbox.message_id == message.id)
        ).scalar_one()
        == 1
    )

    draft = _fresh_draft(draft)
    assert draft.status == "approved"
    assert draft.sent_message_id == message.id
    assert draft.reviewer_id == desk.admin.id
    assert draft.final_body is None
    [event] = _events("draft.approved")
    assert event.data["draft_id"] == draft.id
    assert event.data["edited"] is False
    assert event.data["final_body"] == "Sorry! A new parcel is on its way."

    thread = _page(as_admin, desk.conv_url())
    head = re.search(
        r'<header class="msg-head">(.*?)</header>',
        thread.split(f'data-message-id="{message.id}"')[1],
        re.S,
    ).group(1)
    text = " ".join(re.sub(r"<[^>]+>", " ", head).split())
    # The naming rule of services/activity/actor_names.py.
    assert text.startswith("Triage bot Bot · approved by Ada Admin")


def test_the_production_bot_actor_sends_as_the_workspace_bot(as_admin, desk, bot):
    """A token's actor (as the MCP layer builds it) drafts as the workspace's bot user."""
    workspace = db.session.get(Workspace, desk.workspace.id)
    token = bot.token_id
    actor = policy.token_actor(db.session.get(McpToken, token), workspace)
    draft = _draft(actor, desk.conversation, "Hello from the real bot.")
    assert as_admin.post(_approve_url(desk, draft)).status_code == 302
    [message] = _outgoing(desk.conversation)
    assert message.sender_user_id == workspace.bot_user_id
    assert message.token_id == token


def test_edit_then_approve_sends_the_edit_and_keeps_the_original(as_agent, desk, bot):
    draft = _draft(bot, desk.conversation, "We will refund you.")

    response = as_agent.post(
        _approve_url(desk, draft), data={"body": "We will refund you today.\r\nSorry again!"}
    )
    assert response.status_code == 302

    [message] = _outgoing(desk.conversation)
    assert message.body == "We will refund you today.\nSorry again!"
    assert message.approved_by_id == desk.agent.id
    draft = _fresh_draft(draft)
    assert draft.status == "approved"
    assert draft.body == "We will refund you."
    assert draft.final_body == "We will refund you today.\nSorry again!"
    [event] = _events("draft.approved")
    assert event.data["edited"] is True
    assert event.data["final_body"] == "We will refund you today.\nSorry again!"


def test_edit_form_sent_unchanged_counts_as_a_plain_approval(as_agent, desk, bot):
    draft = _draft(bot, desk.conversation, "Line one.\nLine two.")
    # The browser posts the prefilled textarea back with CRLF line breaks.
    as_agent.post(_approve_url(desk, draft), data={"body": "Line one.\r\nLine two.\r\n"})
    assert _fresh_draft(draft).final_body is None
    assert _events("draft.approved")[0].data["edited"] is False


def test_an_empty_or_too_long_edit_is_refused_and_kept(as_agent, desk, bot):
    draft = _draft(bot, desk.conversation, "We will refund you.")

    empty = as_agent.post(_approve_url(desk, draft), data={"body": "  \r\n "})
    assert empty.status_code == 422
    page = empty.get_data(as_text=True)
    assert "Write the reply to send" in page
    assert f'id="draft-{draft.id}-body-error"' in page

    long_text = "Refund " + "x" * 20_000
    too_long = as_agent.post(_approve_url(desk, draft), data={"body": long_text})
    assert too_long.status_code == 422
    page = too_long.get_data(as_text=True)
    assert long_text in page  # nothing the teammate typed is lost
    assert "under 20,000 characters" in page
    assert _fresh_draft(draft).status == "pending"
    assert _outgoing(desk.conversation) == []


def test_second_reviewer_sees_who_got_there_first(client, auth, desk, bot):
    draft = _draft(bot, desk.conversation, "On its way.")
    auth.login(desk.agent.email)
    page = _page(client, desk.url("/drafts"))
    assert f'data-draft-id="{draft.id}"' in page  # the agent has the card open…

    # …while the admin approves it in another browser.
    draft_service.approve(factories.actor_for(desk.admin, desk.workspace), draft.id)

    for data in ({}, {"body": "My own version"}):
        response = client.post(_approve_url(desk, draft), data=data, follow_redirects=True)
        assert response.status_code == 200
        assert "Already handled by Ada Admin (approved)." in response.get_data(as_text=True)
        assert 'class="flash flash-warning"' in response.get_data(as_text=True)
    response = client.post(
        _approve_url(desk, draft, "reject"), data={"reason": "Too late"}, follow_redirects=True
    )
    assert "Already handled by Ada Admin (approved)." in response.get_data(as_text=True)
    assert len(_outgoing(desk.conversation)) == 1
    assert len(_events("draft.approved")) == 1
    assert _events("draft.rejected") == []


def test_a_rejected_draft_cannot_be_approved_afterwards(as_admin, desk, bot):
    draft = _draft(bot, desk.conversation, "On its way.")
    draft_service.reject(factories.actor_for(desk.agent, desk.workspace), draft.id, "Wrong tone")
    response = as_admin.post(_approve_url(desk, draft), follow_redirects=True)
    assert "Already handled by Andy Agent (rejected)." in response.get_data(as_text=True)
    assert _outgoing(desk.conversation) == []


def test_a_superseded_draft_says_so(as_admin, desk, bot):
    draft = _draft(bot, desk.conversation, "First try.")
    _draft(bot, desk.conversation, "Second try.")
    response = as_admin.post(_approve_url(desk, draft), follow_redirects=True)
    assert "replaced this draft with a newer one" in response.get_data(as_text=True)
    assert _outgoing(desk.conversation) == []


# --- rejecting -------------------------------------------------------------------------------


def test_reject_needs_a_reason(as_agent, desk, bot):
    draft = _draft(bot, desk.conversation, "We will refund you.")

    for data in ({}, {"reason": ""}, {"reason": "  \r\n  "}):
        response = as_agent.post(_approve_url(desk, draft, "reject"), data=data)
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        assert "Give a reason." in page
        assert f'id="draft-{draft.id}-reason-error"' in page
        assert re.search(r'<details class="draft-panel draft-panel-reject" data-panel\s+open', page)
    assert _fresh_draft(draft).status == "pending"
    assert _events("draft.rejected") == []

    too_long = "No. " + "y" * 2000
    response = as_agent.post(_approve_url(desk, draft, "reject"), data={"reason": too_long})
    assert response.status_code == 422
    assert too_long in response.get_data(as_text=True)


def test_reject_with_a_reason_tells_the_bot(as_agent, desk, bot):
    draft = _draft(bot, desk.conversation, "We will refund you.")

    response = as_agent.post(
        _approve_url(desk, draft, "reject"),
        data={"reason": "Refunds need a manager's OK first."},
        follow_redirects=True,
    )
    assert "Rejected; the bot will see your reason." in response.get_data(as_text=True)
    draft = _fresh_draft(draft)
    assert draft.status == "rejected"
    assert draft.rejection_reason == "Refunds need a manager's OK first."
    assert draft.reviewer_id == desk.agent.id
    [event] = _events("draft.rejected")
    assert event.data["reason"] == "Refunds need a manager's OK first."
    assert event.data["draft_id"] == draft.id
    assert _outgoing(desk.conversation) == []


# --- on the conversation page ----------------------------------------------------------------


def test_conversation_page_shows_its_pending_drafts_above_the_reply_box(as_agent, desk, bot):
    draft = _draft(bot, desk.conversation, "A new parcel ships today.", note="Check stock first")
    page = _page(as_agent, desk.conv_url())
    block = page.index('data-testid="pending-drafts"')
    assert block < page.index('id="composer"')
    assert page.index('data-testid="thread"') < block
    assert "A new parcel ships today." in page and "Check stock first" in page
    conv_path = desk.conv_url()
    assert page.count(f'name="next" value="{conv_path}"') == 3  # approve, edit, reject

    response = as_agent.post(_approve_url(desk, draft), data={"next": conv_path})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(conv_path)
    page = _page(as_agent, conv_path)
    assert "Sent. The customer will receive it." in page
    assert 'data-testid="pending-drafts"' not in page
    assert "approved by Andy Agent" in page


def test_reject_without_reason_on_the_conversation_page_stays_there(as_agent, desk, bot):
    draft = _draft(bot, desk.conversation, "A new parcel ships today.")
    response = as_agent.post(
        _approve_url(desk, draft, "reject"), data={"reason": "", "next": desk.conv_url()}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="composer"' in page and "My parcel never arrived" in page
    assert "Give a reason." in page


def test_only_local_next_targets_are_followed(as_admin, desk, bot):
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"):
        draft = _draft(bot, factories.make_conversation(desk.support), "Hi")
        response = as_admin.post(_approve_url(desk, draft), data={"next": target})
        assert response.status_code == 302
        assert response.headers["Location"].endswith(desk.url("/drafts")), target


# --- staleness and takeover ------------------------------------------------------------------


def test_a_human_reply_after_the_draft_flags_it_stale(as_admin, desk, bot):
    draft = _draft(bot, desk.conversation, "We will look into it.")
    assert 'data-testid="stale-badge"' not in _page(as_admin, desk.url("/drafts"))

    conversation_service.reply(
        factories.actor_for(desk.agent, desk.workspace),
        desk.conversation.display_id,
        "I found it, it arrives tomorrow.",
    )
    for url in (desk.url("/drafts"), desk.conv_url()):
        page = _page(as_admin, url)
        assert "Possibly stale" in page
        assert "A teammate replied after this draft was written." in page
    assert draft_service.is_stale(_fresh_draft(draft))


def test_take_over_flags_the_draft_and_approval_still_works(as_admin, desk, bot):
    draft = _draft(bot, desk.conversation, "We will look into it.")
    response = as_admin.post(desk.conv_url(action="take-over"))
    assert response.status_code == 302

    page = _page(as_admin, desk.url("/drafts"))
    assert "Possibly stale" in page
    assert "Taken over by Ada Admin." in page
    assert 'class="badge badge-human"' in page
    conv_page = _page(as_admin, desk.conv_url())
    assert "Possibly stale" in conv_page and "Hand back to bot" in conv_page

    # The teammate decides: approving is allowed, and the conversation stays with the humans.
    response = as_admin.post(
        _approve_url(desk, draft), data={"next": desk.conv_url()}, follow_redirects=True
    )
    assert "Sent. The customer will receive it." in response.get_data(as_text=True)
    assert len(_outgoing(desk.conversation)) == 1
    assert db.session.get(Conversation, desk.conversation.id).handoff is True


# --- safety ----------------------------------------------------------------------------------


def test_customer_html_is_escaped_on_the_queue_and_the_conversation(as_admin, desk, bot):
    conversation = factories.make_conversation(desk.support, content=XSS_IMG, subject=XSS_SCRIPT)
    inbound_service.receive_inbound(
        desk.support,
        {"email": conversation.contact.email},
        f"Also: {XSS_SCRIPT}",
        conversation_display_id=conversation.display_id,
    )
    _draft(bot, conversation, f"Reply quoting {XSS_IMG}", note=XSS_SCRIPT)

    for url in (desk.url("/drafts"), desk.conv_url(conversation)):
        page = _page(as_admin, url)
        assert "&lt;img src=x onerror=alert(1)&gt;" in page, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, url
        assert "<img src=x" not in page, url
        assert XSS_SCRIPT not in page, url


def test_review_posts_need_the_csrf_token(csrf_app, desk, bot):
    draft = _draft(bot, desk.conversation, "On its way.")
    client = csrf_app.test_client()
    token = TOKEN_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    login = client.post(
        "/login",
        data={"email": desk.admin.email, "password": factories.PASSWORD, "csrf_token": token},
    )
    assert login.status_code == 302

    for action, data in (
        ("approve", {}),
        ("approve", {"body": "forged"}),
        ("reject", {"reason": "forged"}),
    ):
        response = client.post(_approve_url(desk, draft, action), data=data)
        assert response.status_code == 400, action
    assert _fresh_draft(draft).status == "pending"
    assert _outgoing(desk.conversation) == []

    page = client.get(desk.url("/drafts")).get_data(as_text=True)
    token = TOKEN_RE.search(page).group(1)
    response = client.post(_approve_url(desk, draft), data={"csrf_token": token})
    assert response.status_code == 302
    assert len(_outgoing(desk.conversation)) == 1


def test_each_review_outcome_is_audited_to_the_teammate(as_admin, desk, bot):
    approved = draft_service.create_draft(bot, desk.conversation.display_id, "First")
    draft_service.approve(policy.member_actor(desk.admin, desk.workspace), approved.id, "Edited")
    rejected = draft_service.create_draft(bot, desk.conversation.display_id, "Second")
    draft_service.reject(policy.member_actor(desk.admin, desk.workspace), rejected.id, "Too curt")
    rows = db.session.execute(
        select(AuditEntry.action, AuditEntry.actor_id, AuditEntry.detail)
        .where(AuditEntry.action.like("draft.%"))
        .order_by(AuditEntry.id)
    ).all()
    assert [tuple(r) for r in rows] == [
        ("draft.approved", desk.admin.id, "approved with edits"),
        ("draft.rejected", desk.admin.id, "Too curt"),
    ]


def test_the_busy_pages_own_markup_is_ascii(as_admin, desk, bot):
    """The queue and the conversation list add no non-ASCII character of their own (entities
    instead): one such character makes Python encode the whole page character by character,
    ~0.25 ms for a full drafts queue against a copy when it is ASCII (bench/README.md)."""
    factories.make_conversation(  # a preview long enough to be cut with an ellipsis
        desk.support, desk.contact, content="Where is my parcel? " * 20, subject="Still waiting"
    )
    for number in range(3):
        _draft(bot, desk.conversation, f"Draft number {number}: on its way.", "Check the date")
    for path in ("/drafts", "/conversations", "/conversations?page=1&status=all"):
        page = _page(as_admin, desk.url(path))
        assert page.isascii(), [ch for ch in page if not ch.isascii()][:10]
    assert "&hellip;" in _page(as_admin, desk.url("/conversations"))
