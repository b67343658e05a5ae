"""The agent's rows are exactly what the entities say, whichever way they are read: the list
and search rows (services/conversations/reads.py: the SQLite search walk that returns the
rows itself, the two-step search, the list statements), messages and the events feed
(services/activity/event_feed.py), with their one-call result types
(database/result_types.py), compared with the ORM entities for an admin and for an agent
restricted to one inbox, across filters and pages."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from deskwoot.database import result_types
from deskwoot.extensions import db
from deskwoot.models import Conversation, Event, Message, Outbox
from deskwoot.services.activity import event_feed
from deskwoot.services.conversations import reads
from deskwoot.services.conversations import workflow as svc
from deskwoot.services.conversations.filters import (
    ConversationFilters,
    in_order,
    search_hits,
)
from deskwoot.services.conversations.rows import (
    ContactRef,
    ConversationRow,
    InboxRef,
    LabelRef,
    UserRef,
)
from tests import factories as f

QUERIES = ("wombat", "wombat refund", "refu", "nothingmatches")
FILTERS = (
    {},
    {"status": "open"},
    {"label": "vip"},
    {"assignee": "unassigned"},
    {"priority": "high"},
)


@pytest.fixture
def desk(app):
    """Two inboxes, an admin and an agent who works one; conversations with and without
    labels, assignees, priorities, custom attributes and contact names."""
    ws = f.make_workspace(plan="enterprise")
    support = f.make_inbox(ws, name="Support")
    billing = f.make_inbox(ws, name="Billing")
    admin = f.make_user(ws, role="admin", name="Ada Admin")
    agent = f.make_user(ws, role="agent", inboxes=[support], name="Sam Support")
    admin_actor, agent_actor = f.actor_for(admin, ws), f.actor_for(agent, ws)
    vip, late = f.make_label(ws, "vip", "#ff0000"), f.make_label(ws, "late", "#00ff00")
    words = ("wombat refund please", "wombat delivery late", "refund now", "hello there")
    for i in range(14):
        inbox = support if i % 3 else billing
        contact = f.make_contact(ws, name=None if i % 4 == 0 else f"Customer Ñ{i}")
        conv = f.make_conversation(inbox, contact, content=words[i % 4], subject=f"S{i}")
        if i % 2:
            svc.update_labels(admin_actor, conv.display_id, add=[vip.name, late.name][: i % 3])
        if i % 5 == 1:
            svc.assign(admin_actor, conv.display_id, admin.id)
        entity = db.session.get(Conversation, conv.id)
        if i % 3 == 0:
            entity.custom_attributes = {"order_id": i, "tags": ["a", "b"], "note": "ü"}
        if i % 4 == 1:
            entity.priority = "high"
        if i % 7 == 3:
            entity.status = "pending"
        db.session.commit()
    return admin_actor, agent_actor


def from_entity(conversation_id: int) -> ConversationRow:
    """The row the ORM entity describes: what every read must return."""
    c = db.session.get(Conversation, conversation_id)
    return ConversationRow(
        c.id,
        c.display_id,
        c.subject,
        c.status,
        c.snoozed_until,
        c.priority,
        c.handoff,
        c.handoff_reason,
        c.custom_attributes,
        c.last_activity_at,
        c.created_at,
        inbox=InboxRef(c.inbox.id, c.inbox.name),
        contact=ContactRef(
            c.contact.id, c.contact.name, c.contact.email, c.contact.identifier, c.contact.phone
        ),
        assignee=UserRef(c.assignee.id, c.assignee.name, c.assignee.email)
        if c.assignee is not None
        else None,
        labels=[LabelRef(label.name, label.color) for label in c.labels],
    )


def two_step(actor, filters, limit, offset=0, before_key=None):
    """The search as it was read before the walk returned its rows: the hits, then the rows
    by id through the list statement, in the hits' order."""
    hits = search_hits(actor, filters, limit, offset, before_key)
    page = hits[:limit]
    only = ConversationFilters(
        status="all", conversation_ids=tuple(h.conversation_id for h in page)
    )
    rows, _ = reads.conversation_page(actor, only, limit=max(1, len(page)))
    return in_order(rows, page), page, len(hits) > limit


def test_search_pages_are_the_two_step_reads_and_the_entities(desk):
    checked = 0
    for actor in desk:
        for query in QUERIES:
            for extra in FILTERS:
                filters = ConversationFilters(**{"status": "all", **extra, "query": query})
                before_key, offset = None, 0
                while True:  # every page, by key and (first page only) by offset
                    got = reads.search_page(actor, filters, 3, offset, before_key)
                    assert got == two_step(actor, filters, 3, offset, before_key)
                    rows, page, more = got
                    assert rows == [from_entity(r.id) for r in rows]
                    checked += len(rows)
                    if not more:
                        break
                    before_key = page[-1].key
            # An offset page is the same rows as the key pages.
            filters = ConversationFilters(status="all", query=query)
            assert reads.search_page(actor, filters, 2, 2) == two_step(actor, filters, 2, 2)
    assert checked > 40  # the seed really exercised the walk


def test_the_agent_never_sees_the_other_inbox(desk):
    admin, agent = desk
    everything, _ = reads.list_conversations(
        admin, ConversationFilters(status="all", query="wombat"), limit=100
    )
    theirs, _ = reads.list_conversations(
        agent, ConversationFilters(status="all", query="wombat"), limit=100
    )
    assert {r.inbox.name for r in everything} == {"Support", "Billing"}
    assert theirs == [r for r in everything if r.inbox.name == "Support"]


def test_list_pages_are_the_entities(desk):
    for actor in desk:
        for extra in FILTERS:
            filters = ConversationFilters(**{"status": "all", **extra})
            rows, _ = reads.list_conversations(actor, filters, limit=100)
            assert rows and rows == [from_entity(r.id) for r in rows]
            one = reads.conversation(actor, rows[0].display_id)
            assert one == from_entity(one.id)


def test_messages_and_their_deliveries_are_the_entities(desk):
    admin, agent = desk
    rows, _ = reads.list_conversations(agent, ConversationFilters(status="all"), limit=3)
    for row in rows:
        svc.reply(admin, row.display_id, "Thanks, on it.")
        svc.add_note(admin, row.display_id, "internal")
    sent = db.session.query(Outbox).filter(Outbox.message_id.is_not(None)).first()
    sent.status, sent.sent_at = "sent", datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    db.session.commit()
    seen = 0
    for actor in desk:
        for row in rows:
            page, _ = reads.messages(actor, row.id, before_id=None, limit=50)
            page.append(reads.last_messages([row.id])[row.id])
            for m in page:
                entity = db.session.get(Message, m.id)
                assert (m.body, m.kind, m.created_at) == (
                    entity.body,
                    entity.kind,
                    entity.created_at,
                )
                assert m.created_at.tzinfo is UTC
                outbox = db.session.query(Outbox).filter_by(message_id=m.id).one_or_none()
                if outbox is None:
                    assert m.delivery is None
                else:
                    assert (m.delivery.status, m.delivery.delivered_at) == (
                        outbox.status,
                        outbox.sent_at,
                    )
                    seen += outbox.sent_at is not None
    assert seen  # the sent one was read


def test_event_rows_are_the_entities(desk):
    admin, agent = desk
    db.session.add(
        Event(
            workspace_id=admin.workspace_id,
            type="contact.updated",
            actor_type="system",
            data={},
        )
    )
    db.session.commit()
    for actor in desk:
        page = event_feed.poll(actor, 0, limit=500)
        assert page.events and not page.has_more
        columns = [c.key for c in Event.__table__.columns]
        for row in page.events:
            entity = db.session.get(Event, row.id)
            assert tuple(getattr(row, k) for k in columns) == tuple(
                getattr(entity, k) for k in columns
            )
            assert type(row.data) is dict and row.created_at.tzinfo is UTC
        if actor is agent:  # nothing of the other inbox
            assert len(page.events) < len(event_feed.poll(admin, 0, limit=500).events)


@pytest.mark.parametrize(
    "text", ["{}", "[]", "null", '"x"', "1.5", '{"a":[1,{"b":null}],"c":"ü"}', ' {"a": 1} ', "{} "]
)
def test_json_values_decode_as_json_loads_does(text):
    assert result_types._json(text) == json.loads(text)
    assert type(result_types._json(text)) is type(json.loads(text))


@pytest.mark.parametrize("text", ["", "{", "{} x", "nul"])
def test_bad_json_fails_as_json_loads_does(text):
    with pytest.raises(json.JSONDecodeError):
        result_types._json(text)
