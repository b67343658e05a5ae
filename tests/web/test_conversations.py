"""Working the queue in the browser: the list, its filters, and every conversation action."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from deskwoot.extensions import db
from deskwoot.models import Conversation, McpToken, Message, utcnow
from deskwoot.services.conversations import workflow as conversation_service
from tests import factories


def _messages(conversation: Conversation) -> list[Message]:
    return list(
        db.session.execute(
            select(Message).where(Message.conversation_id == conversation.id).order_by(Message.id)
        ).scalars()
    )


def _fresh(conversation: Conversation) -> Conversation:
    db.session.expire_all()
    return db.session.get(Conversation, conversation.id)


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


# --- the list --------------------------------------------------------------------------------


def test_list_shows_open_conversations_with_their_details(as_admin, desk):
    page = _page(as_admin, desk.url("/conversations"))
    assert f"#{desk.conversation.display_id}" in page
    assert "Jane Customer" in page
    assert "Lost parcel" in page
    assert "My parcel never arrived" in page
    assert "Support" in page
    assert "Sam Prospect" in page  # admins see every inbox
    assert 'data-testid="tab-open"' in page
    assert 'Open <span class="count">2</span>' in page


def test_status_tabs_filter_and_count(as_admin, desk):
    conversation_service.set_status(
        factories.actor_for(desk.admin, desk.workspace), desk.conversation.display_id, "resolved"
    )
    open_page = _page(as_admin, desk.url("/conversations"))
    assert "Lost parcel" not in open_page
    assert 'Resolved <span class="count">1</span>' in open_page
    resolved_page = _page(as_admin, desk.url("/conversations?status=resolved"))
    assert "Lost parcel" in resolved_page
    assert "Sam Prospect" not in resolved_page


def test_filters_by_inbox_assignee_label_and_priority(as_admin, desk):
    actor = factories.actor_for(desk.admin, desk.workspace)
    factories.make_label(desk.workspace, "vip")
    conversation_service.set_labels(actor, desk.conversation.display_id, ["vip"])
    conversation_service.set_priority(actor, desk.conversation.display_id, "urgent")
    conversation_service.assign(actor, desk.conversation.display_id, desk.admin.id)

    for query in (
        f"inbox={desk.support.id}",
        "assignee=me",
        f"assignee={desk.admin.id}",
        "label=vip",
        "priority=urgent",
    ):
        page = _page(as_admin, desk.url(f"/conversations?{query}"))
        assert "Lost parcel" in page, query
        assert "Sam Prospect" not in page, query
    unassigned = _page(as_admin, desk.url("/conversations?assignee=unassigned"))
    assert "Sam Prospect" in unassigned
    assert "Lost parcel" not in unassigned


def test_search_finds_words_in_messages_and_contact_emails(as_admin, desk):
    by_body = _page(as_admin, desk.url("/conversations?q=parcel"))
    assert "Jane Customer" in by_body
    assert "Sam Prospect" not in by_body
    by_email = _page(as_admin, desk.url("/conversations?q=sam@example.com"))
    assert "Sam Prospect" in by_email
    assert "Jane Customer" not in by_email
    nothing = _page(as_admin, desk.url("/conversations?q=zebra"))
    assert "Nothing matches" in nothing


def test_search_looks_through_resolved_conversations_too(as_admin, desk):
    conversation_service.set_status(
        factories.actor_for(desk.admin, desk.workspace), desk.conversation.display_id, "resolved"
    )
    assert "Jane Customer" in _page(as_admin, desk.url("/conversations?q=parcel"))


def test_list_pages_25_at_a_time(as_admin, desk):
    for n in range(25):
        factories.make_conversation(desk.support, content=f"Question number {n}")
    first = _page(as_admin, desk.url("/conversations"))
    assert "Older" in first
    assert first.count('class="conv-row"') == 25
    second = _page(as_admin, desk.url("/conversations?page=2"))
    assert second.count('class="conv-row"') == 2
    assert "Newer" in second
    assert "Older" not in second


def test_listing_wakes_snoozes_that_are_due(as_admin, desk):
    conversation = _fresh(desk.conversation)
    conversation.status = "snoozed"
    conversation.snoozed_until = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert "Lost parcel" in _page(as_admin, desk.url("/conversations"))
    assert _fresh(desk.conversation).status == "open"


# --- one conversation --------------------------------------------------------------------------


def test_reply_is_sent_and_shown(as_admin, desk):
    response = as_admin.post(desk.conv_url(action="reply"), data={"body": "On its way again!"})
    assert response.status_code == 302
    last = _messages(desk.conversation)[-1]
    assert (last.kind, last.sender_user_id, last.body) == (
        "outgoing",
        desk.admin.id,
        "On its way again!",
    )
    page = _page(as_admin, response.headers["Location"])
    assert "Reply sent." in page
    assert "On its way again!" in page
    assert _fresh(desk.conversation).handoff is True


def test_empty_reply_keeps_the_page_and_writes_nothing(as_admin, desk):
    before = len(_messages(desk.conversation))
    response = as_admin.post(desk.conv_url(action="reply"), data={"body": "   "})
    assert response.status_code == 422
    assert "must not be empty" in response.get_data(as_text=True)
    assert len(_messages(desk.conversation)) == before


def test_note_is_private_and_marked_as_such(as_admin, desk):
    as_admin.post(desk.conv_url(action="note"), data={"body": "Customer is a reseller"})
    last = _messages(desk.conversation)[-1]
    assert last.kind == "note"
    page = _page(as_admin, desk.conv_url())
    assert "Private note" in page
    assert "msg-note" in page
    assert "Customer is a reseller" in page


def test_status_priority_and_resolve_button(as_admin, desk):
    as_admin.post(desk.conv_url(action="status"), data={"status": "pending"})
    assert _fresh(desk.conversation).status == "pending"
    as_admin.post(desk.conv_url(action="priority"), data={"priority": "high"})
    assert _fresh(desk.conversation).priority == "high"

    response = as_admin.post(
        desk.conv_url(action="status"), data={"status": "resolved"}, follow_redirects=True
    )
    assert _fresh(desk.conversation).status == "resolved"
    page = response.get_data(as_text=True)
    assert "Conversation resolved." in page
    assert ">Reopen</button>" in page


def test_snooze_until_a_local_time(as_admin, desk):
    until = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    local = until + timedelta(hours=2)  # the browser is at UTC+2
    as_admin.post(
        desk.conv_url(action="status"),
        data={
            "status": "snoozed",
            "snoozed_until": local.strftime("%Y-%m-%dT%H:%M"),
            "tz_offset": "120",
        },
    )
    conversation = _fresh(desk.conversation)
    assert conversation.status == "snoozed"
    assert conversation.snoozed_until == until


def test_snoozing_into_the_past_is_refused_with_a_message(as_admin, desk):
    response = as_admin.post(
        desk.conv_url(action="status"),
        data={
            "status": "snoozed",
            "snoozed_until": "2001-01-01T10:00",
        },
        follow_redirects=True,
    )
    assert "future time" in response.get_data(as_text=True)
    assert _fresh(desk.conversation).status == "open"


def test_labels_are_set_from_checkboxes(as_admin, desk):
    factories.make_label(desk.workspace, "refund")
    factories.make_label(desk.workspace, "shipping")
    as_admin.post(desk.conv_url(action="labels"), data={"labels": ["refund", "shipping"]})
    assert [label.name for label in _fresh(desk.conversation).labels] == ["refund", "shipping"]
    as_admin.post(desk.conv_url(action="labels"), data={"labels": ["shipping"]})
    assert [label.name for label in _fresh(desk.conversation).labels] == ["shipping"]
    as_admin.post(desk.conv_url(action="labels"), data={})
    assert _fresh(desk.conversation).labels == []


def test_assign_and_unassign(as_admin, desk):
    as_admin.post(desk.conv_url(action="assign"), data={"assignee_id": str(desk.agent.id)})
    assert _fresh(desk.conversation).assignee_id == desk.agent.id
    as_admin.post(desk.conv_url(action="assign"), data={"assignee_id": ""})
    assert _fresh(desk.conversation).assignee_id is None


def test_assigning_someone_outside_the_inbox_is_explained_not_done(as_admin, desk):
    response = as_admin.post(
        desk.conv_url(desk.hidden, "assign"),
        data={"assignee_id": str(desk.agent.id)},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "does not work the" in response.get_data(as_text=True)
    assert _fresh(desk.hidden).assignee_id is None


def test_take_over_and_hand_back(as_agent, desk):
    as_agent.post(desk.conv_url(action="take-over"))
    conversation = _fresh(desk.conversation)
    assert conversation.handoff is True
    assert conversation.assignee_id == desk.agent.id
    assert "Hand back to bot" in _page(as_agent, desk.conv_url())

    as_agent.post(desk.conv_url(action="hand-back"))
    assert _fresh(desk.conversation).handoff is False
    assert ">Take over</button>" in _page(as_agent, desk.conv_url())


def test_bot_messages_show_the_token_and_who_approved_them(as_admin, desk):
    bot = factories.bot_actor(desk.workspace)
    token = McpToken(
        workspace_id=desk.workspace.id,
        name="OpenClaw triage",
        token_hash="x" * 64,
        prefix="dw_mcp_",
        last4="abcd",
        scopes=[],
        inbox_ids=[],
    )
    db.session.add(token)
    db.session.flush()
    db.session.add(
        Message(
            workspace_id=desk.workspace.id,
            conversation_id=desk.conversation.id,
            inbox_id=desk.support.id,
            kind="outgoing",
            sender_type="bot",
            sender_user_id=bot.user_id,
            token_id=token.id,
            approved_by_id=desk.admin.id,
            body="We have re-sent your parcel.",
        )
    )
    db.session.commit()
    page = _page(as_admin, desk.conv_url())
    assert "OpenClaw triage" in page
    assert "approved by Ada Admin" in page


def test_an_unknown_conversation_is_404(as_admin, desk):
    assert as_admin.get(desk.url("/conversations/999")).status_code == 404
    response = as_admin.post(desk.url("/conversations/999/reply"), data={"body": "x"})
    assert response.status_code == 404


def test_nonsense_in_the_query_string_is_ignored_not_an_error(as_admin, desk):
    url = desk.url("/conversations?status=bogus&assignee=%C2%B2&inbox=abc&priority=x&page=-5")
    page = _page(as_admin, url)
    assert "Lost parcel" in page  # fell back to the open tab, no filters


def test_a_garbled_assignee_is_explained(as_admin, desk):
    response = as_admin.post(
        desk.conv_url(action="assign"), data={"assignee_id": "²"}, follow_redirects=True
    )
    assert "Pick a teammate from the list." in response.get_data(as_text=True)
    assert _fresh(desk.conversation).assignee_id is None
