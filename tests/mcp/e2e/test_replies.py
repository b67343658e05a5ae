"""The tools that write to a customer end to end: reply_to_conversation and
start_conversation, each once per idempotency key, queued in the outbox, audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from deskwoot.extensions import db
from deskwoot.models import AuditEntry, Contact, Conversation, Message, Outbox
from tests import factories as f
from tests.mcp.conftest import MODES, connect, make_desk
from tests.mcp.helpers import (
    audit_outcomes,
    conversation_row,
    count,
    fails,
    fresh,
    ok,
    run,
    token_row,
)

pytestmark = pytest.mark.parametrize("mode", MODES)


def test_reply_to_conversation_and_idempotency(live, mode):
    desk = make_desk()
    conv = f.make_conversation(desk.inbox)
    token = desk.mint()
    args = {
        "conversation_id": conv.display_id,
        "body": "We are on it!",
        "idempotency_key": "reply-1",
    }

    async def main():
        async with connect(live.url, token, mode) as client:
            first = await ok(client, "reply_to_conversation", args)
            again = await ok(client, "reply_to_conversation", args)
            clash = await fails(client, "reply_to_conversation", {**args, "body": "Other"})
            no_key = await fails(
                client, "reply_to_conversation", {"conversation_id": conv.display_id, "body": "x"}
            )
            missing = await fails(
                client,
                "reply_to_conversation",
                {**args, "conversation_id": 4242, "idempotency_key": "k2"},
            )
        return first, again, clash, no_key, missing

    first, again, clash, no_key, missing = run(main)
    fresh()
    token_id = token_row(desk.workspace.id, token).id
    message = first["message"]
    assert first["conversation_id"] == conv.display_id
    assert message["kind"] == "outgoing" and message["author_role"] == "bot"
    assert message["token_name"] == "Test bot"
    assert again == first
    assert clash["code"] == "conflict"
    assert "idempotency_key" in clash["message"]
    assert no_key["code"] == "invalid_arguments"
    assert missing["code"] == "not_found"

    rows = (
        db.session.execute(
            select(Message).where(Message.conversation_id == conv.id, Message.kind == "outgoing")
        )
        .scalars()
        .all()
    )
    assert [r.id for r in rows] == [message["id"]]
    row = rows[0]
    assert (row.sender_type, row.token_id, row.body) == ("bot", token_id, "We are on it!")
    assert row.sender_user_id == desk.workspace.bot_user_id
    assert row.delivery_status == "pending"
    assert count(Outbox, Outbox.message_id == row.id) == 1
    assert count(Outbox, Outbox.workspace_id == desk.workspace.id) == 1
    assert audit_outcomes(desk.workspace.id, "reply_to_conversation", token_id) == [
        "ok",
        "replayed",
        "error",
        "error",
        "denied",
    ]
    entry = (
        db.session.execute(
            select(AuditEntry)
            .where(
                AuditEntry.workspace_id == desk.workspace.id,
                AuditEntry.action == "reply_to_conversation",
            )
            .order_by(AuditEntry.id)
        )
        .scalars()
        .first()
    )
    assert entry.target == f"conversation {conv.display_id}"
    assert entry.actor_type == "bot"


def test_start_conversation(live, mode):
    desk = make_desk()
    known = f.make_contact(desk.workspace, name="Known Person", email="known@example.test")
    token = desk.mint()

    async def main():
        async with connect(live.url, token, mode) as client:
            new = await ok(
                client,
                "start_conversation",
                {
                    "inbox_id": desk.inbox.id,
                    "subject": "Your order shipped",
                    "contact": {"email": "New.Person@Example.test", "name": "New Person"},
                    "body": "Good news: it shipped.",
                    "idempotency_key": "start-1",
                },
            )
            replay = await ok(
                client,
                "start_conversation",
                {
                    "inbox_id": desk.inbox.id,
                    "subject": "Your order shipped",
                    "contact": {"email": "New.Person@Example.test", "name": "New Person"},
                    "body": "Good news: it shipped.",
                    "idempotency_key": "start-1",
                },
            )
            existing = await ok(
                client,
                "start_conversation",
                {
                    "inbox_id": desk.other_inbox.id,
                    "contact_id": known.id,
                    "body": "A question about billing",
                    "idempotency_key": "start-2",
                },
            )
            both = await fails(
                client,
                "start_conversation",
                {
                    "inbox_id": desk.inbox.id,
                    "contact_id": known.id,
                    "contact": {"name": "X"},
                    "body": "x",
                    "idempotency_key": "start-3",
                },
            )
            bad_inbox = await fails(
                client,
                "start_conversation",
                {
                    "inbox_id": 999999,
                    "contact_id": known.id,
                    "body": "x",
                    "idempotency_key": "start-4",
                },
            )
        return new, replay, existing, both, bad_inbox

    new, replay, existing, both, bad_inbox = run(main)
    assert replay == new
    assert both["code"] == "invalid"
    assert bad_inbox["code"] == "not_found"
    fresh()
    token_id = token_row(desk.workspace.id, token).id
    conv = conversation_row(desk.workspace, new["conversation"]["display_id"])
    assert conv.inbox_id == desk.inbox.id and conv.subject == "Your order shipped"
    contact = db.session.get(Contact, conv.contact_id)
    assert (contact.email, contact.name, contact.created_via) == (
        "new.person@example.test",
        "New Person",
        "mcp",
    )
    messages = (
        db.session.execute(select(Message).where(Message.conversation_id == conv.id))
        .scalars()
        .all()
    )
    assert [(m.kind, m.sender_type, m.token_id, m.body) for m in messages] == [
        ("outgoing", "bot", token_id, "Good news: it shipped.")
    ]
    assert new["message"]["id"] == messages[0].id
    assert count(Outbox, Outbox.message_id == messages[0].id) == 1
    second = conversation_row(desk.workspace, existing["conversation"]["display_id"])
    assert (second.contact_id, second.inbox_id) == (known.id, desk.other_inbox.id)
    assert count(Conversation, Conversation.workspace_id == desk.workspace.id) == 2
    assert count(Contact, Contact.workspace_id == desk.workspace.id) == 2
    assert audit_outcomes(desk.workspace.id, "start_conversation", token_id) == [
        "ok",
        "replayed",
        "ok",
        "error",
        "denied",
    ]
