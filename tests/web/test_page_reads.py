"""The busy pages' plain-row reads (services/directory/menus.py, the prebuilt status counts
and drafts badge) return what the ORM queries they replace return, for every kind of
teammate, on this run's database (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, literal_column, select

from deskwoot import policy
from deskwoot.extensions import db
from deskwoot.models import Conversation, Draft, User, Workspace, utcnow
from deskwoot.models.conversation import STATUSES
from deskwoot.services.access import mcp_switch
from deskwoot.services.access import tokens as token_service
from deskwoot.services.activity import actor_names as naming
from deskwoot.services.conversations import drafts as draft_service
from deskwoot.services.conversations import labels as label_service
from deskwoot.services.conversations import reads, workflow
from deskwoot.services.conversations.filters import ConversationFilters
from deskwoot.services.directory import inboxes as inbox_service
from deskwoot.services.directory import menus
from deskwoot.services.directory import workspaces as workspace_service
from tests import factories


@pytest.fixture
def bot_token(desk):
    """A drafting bot with a token of its own (its drafts are sent under its name)."""
    admin = factories.actor_for(desk.admin, desk.workspace)
    mcp_switch.set_enabled(admin, True)
    minted = token_service.mint(admin, "Triage bot", ["conversations:draft", "conversations:read"])
    workspace = db.session.get(Workspace, desk.workspace.id)
    return factories.bot_actor(workspace, token_id=minted.token.id)


@pytest.fixture
def actors(desk):
    """An admin, an agent of one inbox and an agent of none, with drafts and labels about."""
    ws = desk.workspace
    factories.make_label(ws, "vip", color="#ff0000")
    factories.make_label(ws, "billing")
    loner = factories.make_user(ws, role="agent", inboxes=[], name="Lone Agent")
    factories.make_user(ws, role="agent", inboxes=[desk.sales], name="Zed Sales")
    for conversation in (desk.conversation, desk.hidden):
        for body in ("First try", "Second try"):
            db.session.add(
                Draft(
                    workspace_id=ws.id,
                    conversation_id=conversation.id,
                    body=body,
                    status="pending",
                    created_at=utcnow(),
                )
            )
    db.session.commit()
    return {
        "admin": factories.actor_for(desk.admin, ws),
        "agent": factories.actor_for(desk.agent, ws),
        "no inbox": factories.actor_for(loner, ws),
    }


def _orm_status_counts(actor, inbox_id, cap):
    """reads.status_counts as it was: built per call from policy.conversation_filter."""
    where = [policy.conversation_filter(actor)]
    if inbox_id is not None:
        where.append(Conversation.inbox_id == inbox_id)
    counts = {}
    for status in STATUSES:
        rows = (
            select(literal_column("1"))
            .select_from(Conversation)
            .where(*where, Conversation.status == status)
            .limit(cap + 1)
            .subquery()
        )
        counts[status] = db.session.execute(select(func.count()).select_from(rows)).scalar_one()
    return counts


@pytest.mark.parametrize("who", ["admin", "agent", "no inbox"])
def test_menus_are_the_entities_names(actors, desk, who):
    actor = actors[who]
    assert [(r.id, r.name) for r in menus.inboxes(actor)] == [
        (i.id, i.name) for i in inbox_service.list_inboxes(actor)
    ]
    assert [(r.name, r.color) for r in menus.labels(actor)] == [
        (label.name, label.color) for label in label_service.list_labels(actor)
    ]
    assert [(r.id, r.name, r.role) for r in menus.team(actor)] == [
        (u.id, u.name, role) for u, role in workspace_service.team(actor)
    ]
    user = db.session.get(User, actor.user_id)
    assert [(r.id, r.name, r.slug, r.role) for r in menus.workspaces(user.id)] == [
        (w.id, w.name, w.slug, role) for w, role in workspace_service.workspaces_for(user)
    ]
    if who == "no inbox":
        assert menus.inboxes(actor) == []


@pytest.mark.parametrize("who", ["admin", "agent", "no inbox"])
def test_prebuilt_counts_are_the_queries_counts(actors, desk, who):
    actor = actors[who]
    for inbox_id in (None, desk.support.id, desk.sales.id):
        for cap in (0, 1, 1000):
            assert reads.status_counts(actor, inbox_id, cap=cap) == _orm_status_counts(
                actor, inbox_id, cap
            )
    for cap in (1, 2, 3, 100):
        assert draft_service.pending_count(actor, cap=cap) == min(
            cap, draft_service.pending_count(actor)
        )
    expected = {"admin": 4, "agent": 2, "no inbox": 0}[who]
    assert draft_service.pending_count(actor, cap=100) == expected


def test_due_snoozes_wake_through_the_prebuilt_read(actors, desk):
    actor = actors["admin"]
    conversation = db.session.get(Conversation, desk.conversation.id)
    conversation.status, conversation.snoozed_until = "snoozed", utcnow() - timedelta(minutes=1)
    later = db.session.get(Conversation, desk.hidden.id)
    later.status, later.snoozed_until = "snoozed", utcnow() + timedelta(hours=1)
    db.session.commit()
    assert workflow.wake_due_snoozes(actor) == 1
    db.session.expire_all()
    assert db.session.get(Conversation, desk.conversation.id).status == "open"
    assert db.session.get(Conversation, desk.hidden.id).status == "snoozed"


def _as_entities(actor, items) -> list[tuple]:
    """What a queue card shows of each draft, read from the ORM entities."""
    shown = []
    for item in items:
        draft = db.session.get(Draft, item.draft.id)
        c = draft.conversation
        shown.append(
            (
                draft.id,
                draft.conversation_id,
                draft.body,
                draft.note_to_reviewer,
                draft.created_at,
                draft.token.name if draft.token else None,
                (c.id, c.display_id, c.subject, c.handoff, c.handoff_reason),
                (c.inbox.id, c.inbox.name, c.contact.display_name),
            )
        )
    return shown


def _as_rows(items) -> list[tuple]:
    shown = []
    for item in items:
        d, c = item.draft, item.draft.conversation
        shown.append(
            (
                d.id,
                d.conversation_id,
                d.body,
                d.note_to_reviewer,
                d.created_at,
                d.token.name if d.token else None,
                (c.id, c.display_id, c.subject, c.handoff, c.handoff_reason),
                (c.inbox.id, c.inbox.name, c.contact.display_name),
            )
        )
    return shown


@pytest.mark.parametrize("who", ["admin", "agent", "no inbox"])
def test_queue_rows_are_the_drafts_entities(actors, desk, who):
    """review_queue's plain rows hold what the Draft entities (and their conversation,
    inbox, contact and token) hold, on every page, paged either way."""
    actor = actors[who]
    conversation = db.session.get(Conversation, desk.conversation.id)
    conversation.handoff, conversation.handoff_reason = True, "Taken over by Ada."
    db.session.commit()
    first = draft_service.review_queue(actor, limit=1)
    pages = [first]
    while pages[-1].newer is not None:
        pages.append(draft_service.review_queue(actor, limit=1, after=pages[-1].newer))
    if who == "no inbox":
        assert first.items == []
        return
    back = draft_service.review_queue(actor, limit=2, before=pages[-1].items[-1].draft.id)
    assert len(pages) == {"admin": 4, "agent": 2}[who]
    for page in [*pages, back]:
        assert _as_rows(page.items) == _as_entities(actor, page.items)
    ids = [item.draft.id for page in pages for item in page.items]
    assert ids == [d.id for d in draft_service.pending(actor)]
    assert [item.draft.id for item in back.items] == ids[-3:-1]


def _old_previews(actor, ids, chars):
    """reads.previews as it was: the agent's last_messages, named by naming.of_message."""
    found = {}
    for conversation_id, message in reads.last_messages(ids).items():
        author = None
        if message.kind == "outgoing":
            sender = message.sender_user
            if message.sender_type == "user" and sender is not None and sender.id == actor.user_id:
                author = reads.YOU
            else:
                author = naming.of_message(message)
        found[conversation_id] = (message.kind, message.body[:chars], author)
    return found


def test_previews_are_the_last_messages_start_and_author(actors, desk, bot_token):
    admin, agent = actors["admin"], actors["agent"]
    long_body = "Ünïcode " + "x" * 300
    workflow.reply(agent, desk.conversation.display_id, long_body)
    other = factories.make_conversation(desk.support, content="Another question")
    workflow.reply(admin, other.display_id, "Answered by the admin")
    third = factories.make_conversation(desk.support, content="Third question")
    draft = draft_service.create_draft(bot_token, third.display_id, "From the bot")
    draft_service.approve(admin, draft.id)
    factories.make_conversation(desk.sales, content="x" * 500)  # a long customer message
    for actor in (admin, agent, actors["no inbox"]):
        rows, _ = reads.list_conversations(actor, ConversationFilters(status="all"))
        ids = [c.id for c in rows]
        for chars in (1, 166, 10_000):
            fast = reads.previews(actor, ids, chars=chars)
            assert {k: (p.kind, p.body, p.author) for k, p in fast.items()} == _old_previews(
                actor, ids, chars
            )
    assert reads.previews(agent, [desk.conversation.id], 166)[desk.conversation.id].author == (
        reads.YOU
    )
