"""The drafts queue a page at a time, and its batched reads giving the single-draft answers."""

from __future__ import annotations

import re

import pytest

from deskwoot.extensions import db
from deskwoot.models import Conversation, Message, Workspace, utcnow
from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.services.access import tokens as token_service
from deskwoot.services.conversations import drafts as draft_service
from deskwoot.services.conversations import reads
from deskwoot.services.conversations import workflow as conversation_service
from deskwoot.web import draft_cards
from deskwoot.web import drafts as draft_views
from tests import factories


@pytest.fixture
def bot(desk):
    admin = factories.actor_for(desk.admin, desk.workspace)
    mcp_settings.set_enabled(admin, True)
    minted = token_service.mint(admin, "Triage bot", ["conversations:draft", "conversations:read"])
    workspace = db.session.get(Workspace, desk.workspace.id)
    return factories.bot_actor(workspace, token_id=minted.token.id)


def _page(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status
    return response.get_data(as_text=True)


def _ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-testid="draft-card" data-draft-id="(\d+)"', page)]


def _link(page: str, testid: str) -> str | None:
    found = re.search(rf'href="([^"]+)" rel="\w+" data-testid="{testid}"', page)
    return found.group(1).replace("&amp;", "&") if found else None


@pytest.fixture
def five(desk, bot, monkeypatch):
    """Five drafts in Support, oldest first, and a queue of two per page."""
    monkeypatch.setattr(draft_views, "QUEUE_PAGE", 2)
    return [
        draft_service.create_draft(
            bot, factories.make_conversation(desk.support).display_id, f"Answer {i}"
        ).id
        for i in range(5)
    ]


# --- paging ----------------------------------------------------------------------------------


def test_the_queue_pages_forwards_and_back(as_agent, desk, five):
    first = _page(as_agent, desk.url("/drafts"))
    assert _ids(first) == five[:2]
    assert _link(first, "older-drafts") is None
    assert "Showing the 2 oldest of 5 drafts." in first
    assert 'name="next"' not in first  # the first page's forms return to the plain queue

    second = _page(as_agent, _link(first, "newer-drafts"))
    assert _ids(second) == five[2:4]
    assert "Showing the" not in second
    third = _page(as_agent, _link(second, "newer-drafts"))
    assert _ids(third) == five[4:]
    assert _link(third, "newer-drafts") is None

    back = _page(as_agent, _link(third, "older-drafts"))
    assert _ids(back) == five[2:4]
    assert _link(back, "newer-drafts") is not None
    assert _ids(_page(as_agent, _link(back, "older-drafts"))) == five[:2]


def test_reviewing_on_a_later_page_comes_back_to_it(as_agent, desk, five):
    url = desk.url(f"/drafts?after={five[1]}")
    page = _page(as_agent, url)
    assert page.count(f'name="next" value="{url}"') == 3 * 2  # approve, edit, reject per card

    response = as_agent.post(desk.url(f"/drafts/{five[2]}/approve"), data={"next": url})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(url)
    assert _ids(_page(as_agent, url)) == five[3:5]

    # A reject without a reason shows that same page again, the card's panel open.
    response = as_agent.post(
        desk.url(f"/drafts/{five[4]}/reject"), data={"reason": "", "next": url}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert _ids(page) == five[3:5]
    assert "Give a reason." in page
    assert draft_cards.GONE not in page


def test_a_vanished_or_bogus_position_starts_from_the_oldest(as_agent, desk, five):
    for query in (f"after={five[-1]}", "after=999999", "before=1", "after=abc", "before="):
        assert _ids(_page(as_agent, desk.url(f"/drafts?{query}"))) == five[:2], query


def test_the_queue_respects_the_agents_inboxes_on_every_page(as_agent, desk, bot, five):
    hidden = draft_service.create_draft(bot, desk.hidden.display_id, "Sales answer").id
    seen = []
    url = desk.url("/drafts")
    while url:
        page = _page(as_agent, url)
        seen += _ids(page)
        url = _link(page, "newer-drafts")
    assert seen == five
    assert hidden not in seen


# --- the batched reads -----------------------------------------------------------------------


def test_stale_reasons_match_stale_reason_draft_by_draft(desk, bot):
    admin = factories.actor_for(desk.admin, desk.workspace)
    agent = factories.actor_for(desk.agent, desk.workspace)

    def conversation():
        return factories.make_conversation(desk.support).display_id

    fresh = conversation()
    replied_before = conversation()
    conversation_service.reply(agent, replied_before, "Earlier human reply")
    conversation_service.hand_back(admin, replied_before)  # a human reply takes over
    replied_after, taken, escalated, unexplained, both = (conversation() for _ in range(5))
    drafts = {
        name: draft_service.create_draft(bot, display_id, f"Draft for {name}")
        for name, display_id in (
            ("fresh", fresh),
            ("replied_before", replied_before),
            ("replied_after", replied_after),
            ("taken", taken),
            ("escalated", escalated),
            ("unexplained", unexplained),
            ("both", both),
        )
    }
    conversation_service.reply(agent, replied_after, "A human answered meanwhile")
    conversation_service.take_over(admin, taken)
    conversation_service.take_over(admin, both)
    conversation_service.reply(agent, both, "And replied")
    for display_id, reason in ((escalated, "Refund over the limit."), (unexplained, None)):
        row = (
            db.session.query(Conversation)
            .filter_by(workspace_id=desk.workspace.id, display_id=display_id)
            .one()
        )
        row.handoff, row.handoff_reason = True, reason
    db.session.commit()

    single = {d.id: draft_service.stale_reason(d) for d in drafts.values()}
    assert draft_service.stale_reasons(list(drafts.values())) == single
    assert single[drafts["fresh"].id] is None
    assert single[drafts["replied_before"].id] is None
    assert single[drafts["replied_after"].id] == draft_service.REPLIED_AFTER
    assert single[drafts["both"].id] == draft_service.REPLIED_AFTER
    assert single[drafts["taken"].id] == "Taken over by Ada Admin."
    assert single[drafts["escalated"].id] == "Refund over the limit."
    assert single[drafts["unexplained"].id] == "A human has taken over."

    # The queue (one query for every card) says the same as the single check.
    queue = draft_service.review_queue(admin)
    assert {item.draft.id: item.stale_reason for item in queue.items} == single


def test_each_card_shows_the_same_thread_end_as_the_conversation_pager(desk, bot):
    admin = factories.actor_for(desk.admin, desk.workspace)
    agent = factories.actor_for(desk.agent, desk.workspace)
    short = factories.make_conversation(desk.support, content="Short thread")
    long = factories.make_conversation(desk.support, content="Long thread")
    conversation_service.reply(agent, long.display_id, "Reply one")
    conversation_service.add_note(agent, long.display_id, "A private note")
    approved = draft_service.create_draft(bot, long.display_id, "Bot reply")
    draft_service.approve(admin, approved.id)
    conversation_service.reply(agent, long.display_id, "Reply two")
    for conversation in (short, long, desk.conversation):
        draft_service.create_draft(bot, conversation.display_id, "Pending answer")

    queue = draft_service.review_queue(admin)
    by_conversation = {item.draft.conversation_id: item for item in queue.items}
    for conversation in (short, long, desk.conversation):
        messages, has_more = reads.messages(
            admin, conversation.id, before_id=None, limit=draft_service.CONTEXT_MESSAGES
        )
        item = by_conversation[conversation.id]
        assert [m.id for m in item.messages] == [m.id for m in messages]
        assert item.earlier == has_more
    assert by_conversation[long.id].earlier is True
    assert by_conversation[long.id].messages[-1].body == "Reply two"
    assert by_conversation[short.id].earlier is False


def test_a_card_names_each_message_s_own_sender(as_admin, desk, bot):
    """The excerpt's names come from one query of plain rows: the conversation's contact, or
    another contact who wrote into it, the bot's token and who approved it."""
    admin = factories.actor_for(desk.admin, desk.workspace)
    conversation = desk.conversation
    cousin = factories.make_contact(desk.workspace, name="Cousin <b>Carl</b>")
    db.session.add(
        Message(
            workspace_id=desk.workspace.id,
            conversation_id=conversation.id,
            inbox_id=conversation.inbox_id,
            kind="incoming",
            sender_type="contact",
            sender_contact_id=cousin.id,
            body="Writing for my cousin",
            created_at=utcnow(),
        )
    )
    db.session.commit()
    sent = draft_service.create_draft(bot, conversation.display_id, "An approved answer")
    draft_service.approve(admin, sent.id)
    draft_service.create_draft(bot, conversation.display_id, "Pending answer")

    [item] = draft_service.review_queue(admin).items
    names = [
        (m.sender_type, m.sender_contact_name, m.token_name, m.approved_by_name)
        for m in item.messages
    ]
    assert names == [
        ("contact", "Jane Customer", None, None),
        ("contact", "Cousin <b>Carl</b>", None, None),
        ("bot", None, "Triage bot", "Ada Admin"),
    ]
    db.session.rollback()
    page = _page(as_admin, desk.url("/drafts"))
    assert '<span class="ctx-who">Cousin &lt;b&gt;Carl&lt;/b&gt;</span>' in page
    assert '<span class="ctx-who">Jane Customer</span>' in page
    assert '<span class="ctx-who">Triage bot</span> <span class="badge badge-bot"' in page
    assert "approved by Ada Admin" in page
