"""The conversation reads (services/conversations/reads.py) and the services the MCP tools ask
instead of reading for themselves: typed plain rows, reach inside every read."""

from __future__ import annotations

import dataclasses

import pytest

from deskwoot.errors import NotFound
from deskwoot.extensions import db
from deskwoot.services.access import tokens
from deskwoot.services.conversations import drafts, reads
from deskwoot.services.conversations import workflow as svc
from deskwoot.services.conversations.filters import ConversationFilters
from deskwoot.services.conversations.rows import (
    ContactRef,
    ConversationRow,
    LabelRef,
    MessageRow,
    UserRef,
)
from deskwoot.services.directory import workspaces
from tests import factories as f


@pytest.fixture
def desk(app):
    ws = f.make_workspace()
    support = f.make_inbox(ws, name="Support")
    sales = f.make_inbox(ws, name="Sales")
    admin = f.make_user(ws, role="admin", name="Ada Admin")
    agent = f.make_user(ws, role="agent", inboxes=[support], name="Sam Support")
    return ws, support, sales, f.actor_for(admin, ws), f.actor_for(agent, ws)


def test_lists_and_a_conversation_come_as_typed_rows(desk):
    ws, support, _, admin, _ = desk
    conv = f.make_conversation(support)
    conv.contact.name = None  # then the display name is the address
    db.session.commit()
    label = f.make_label(ws, "vip", color="#ff0000")
    svc.update_labels(admin, conv.display_id, add=[label.name])
    svc.assign(admin, conv.display_id, admin.user_id)

    rows, has_more = reads.list_conversations(admin, ConversationFilters(status="all"))
    one = reads.conversation(admin, conv.display_id)
    assert not has_more and rows == [one]
    assert isinstance(one, ConversationRow) and isinstance(one.contact, ContactRef)
    assert one.inbox.name == "Support"
    assert one.assignee == UserRef(admin.user_id, "Ada Admin", one.assignee.email)
    assert one.labels == [LabelRef("vip", "#ff0000")]
    # The contact's display name is the model's own rule, on the row.
    assert one.contact.display_name == conv.contact.display_name == conv.contact.email
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.status = "resolved"


def test_messages_carry_the_reach_themselves(desk):
    _, support, sales, admin, agent = desk
    mine = f.make_conversation(support, content="In my inbox")
    svc.reply(admin, mine.display_id, "A reply")
    hidden = f.make_conversation(sales, content="Not for Sam")

    page, has_more = reads.messages(agent, mine.id, before_id=None, limit=1)
    assert [m.body for m in page] == ["A reply"] and has_more
    assert isinstance(page[0], MessageRow) and page[0].sender_user.name == "Ada Admin"
    older, has_more = reads.messages(agent, mine.id, before_id=page[0].id, limit=5)
    assert [m.body for m in older] == ["In my inbox"] and not has_more

    # An agent who is not in Sales reads nothing of it, whoever forgot to check first.
    assert reads.messages(agent, hidden.id, before_id=None, limit=20) == ([], False)
    assert [m.body for m in reads.messages(admin, hidden.id, None, 20)[0]] == ["Not for Sam"]
    first = reads.messages(admin, hidden.id, None, 20)[0][0]
    with pytest.raises(NotFound):
        reads.message(agent, first.id)
    assert reads.message(admin, first.id) == first


def test_a_search_page_is_in_the_search_order(desk):
    _, support, _, admin, _ = desk
    older = f.make_conversation(support, content="wombat delivery late")
    newer = f.make_conversation(support, content="wombat refund please")
    rows, page, has_more = reads.search_page(
        admin, ConversationFilters(status="all", query="wombat"), limit=1
    )
    assert [r.id for r in rows] == [newer.id] and has_more
    rows, _, has_more = reads.search_page(
        admin, ConversationFilters(status="all", query="wombat"), limit=1, before_key=page[0].key
    )
    assert [r.id for r in rows] == [older.id] and not has_more


def test_token_drafts_pages_only_the_tokens_own(desk):
    ws, support, _, admin, _ = desk
    ws.plan = "enterprise"
    conv = f.make_conversation(support)
    token = tokens.mint(admin, "Triage", ["conversations:draft", "conversations:read"]).token
    other = tokens.mint(admin, "Other", ["conversations:draft"]).token
    bot = f.bot_actor(ws, token_id=token.id)
    written = [drafts.create_draft(bot, conv.display_id, f"Draft {n}") for n in range(3)]
    drafts.create_draft(f.bot_actor(ws, token_id=other.id), conv.display_id, "Not mine")

    page, has_more = drafts.token_drafts(bot, limit=2)
    assert [d.id for d in page] == [written[2].id, written[1].id] and has_more
    page, has_more = drafts.token_drafts(bot, before_id=page[-1].id, limit=2)
    assert [d.id for d in page] == [written[0].id] and not has_more
    superseded, _ = drafts.token_drafts(bot, status="superseded", display_id=conv.display_id)
    assert [d.id for d in superseded] == [written[1].id, written[0].id]


def test_whoami_describes_the_actor(desk):
    ws, support, _, _, _ = desk
    bot = f.bot_actor(ws, scopes=["conversations:read"], inbox_ids=[support.id])
    me = tokens.whoami(bot)
    assert me.workspace.id == ws.id and me.name == "Test bot"
    assert me.scopes == ["conversations:read"] and me.inbox_ids == [support.id]
    assert [i.name for i in me.inboxes] == ["Support"]
    assert me.on_trial and me.trial_days_left == 7 and me.mcp_available
    ws.plan = "business"
    db.session.commit()
    me = tokens.whoami(bot)
    assert not me.on_trial and me.trial_days_left is None and not me.mcp_available


def test_a_human_account_is_named_after_its_address_unless_named(app):
    assert workspaces.human_account("kim@example.test", "  ", None).name == "kim"
    named = workspaces.human_account("lee@example.test", " Lee Park ", "hash")
    assert (named.name, named.kind, named.password_hash) == ("Lee Park", "human", "hash")
