"""Private notes and draft replies end to end: written by the bot, reviewed by a human
(approve with edits, reject, supersede), and read back through list_drafts."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from deskwoot.extensions import db
from deskwoot.models import Draft, Message, Outbox
from deskwoot.policy import member_actor
from deskwoot.services.conversations import drafts as draft_service
from tests import factories as f
from tests.mcp.conftest import MODES, connect, make_desk
from tests.mcp.helpers import audit_outcomes, count, fresh, ok, run, token_row, walk

pytestmark = pytest.mark.parametrize("mode", MODES)


def test_private_note_and_drafts_lifecycle(live, mode):
    desk = make_desk()
    conv = f.make_conversation(desk.inbox)
    other = f.make_conversation(desk.inbox)
    third = f.make_conversation(desk.inbox)
    token = desk.mint()
    reviewer = member_actor(desk.admin, desk.workspace)

    async def write():
        async with connect(live.url, token, mode) as client:
            note = await ok(
                client,
                "add_private_note",
                {"conversation_id": conv.display_id, "body": "Customer is VIP"},
            )
            keyed = {
                "conversation_id": conv.display_id,
                "body": "Keyed note",
                "idempotency_key": "note-1",
            }
            n1 = await ok(client, "add_private_note", keyed)
            n2 = await ok(client, "add_private_note", keyed)
            d1 = await ok(
                client,
                "create_draft_reply",
                {
                    "conversation_id": conv.display_id,
                    "body": "Refund is on its way.",
                    "note_to_reviewer": "Check the amount",
                },
            )
            d2 = await ok(
                client,
                "create_draft_reply",
                {"conversation_id": other.display_id, "body": "Try rebooting."},
            )
            pending = await ok(client, "list_drafts", {"status": "pending"})
        return note, n1, n2, d1, d2, pending

    note, n1, n2, d1, d2, pending = run(write)
    fresh()
    token_id = token_row(desk.workspace.id, token).id
    assert note["message"]["kind"] == "note" and note["message"]["private"] is True
    assert n1 == n2
    notes = (
        db.session.execute(
            select(Message).where(Message.conversation_id == conv.id, Message.kind == "note")
        )
        .scalars()
        .all()
    )
    assert sorted(m.body for m in notes) == ["Customer is VIP", "Keyed note"]
    assert all(m.token_id == token_id and m.sender_type == "bot" for m in notes)
    # Drafts: stored pending, nothing sent to the customer, no outbox entry.
    assert (
        count(Message, Message.workspace_id == desk.workspace.id, Message.kind == "outgoing") == 0
    )
    assert count(Outbox, Outbox.workspace_id == desk.workspace.id) == 0
    draft = db.session.get(Draft, d1["draft"]["id"])
    assert (draft.status, draft.token_id, draft.body) == (
        "pending",
        token_id,
        "Refund is on its way.",
    )
    assert draft.note_to_reviewer == "Check the amount"
    assert d1["draft"]["outcome"] == "pending"
    assert [d["id"] for d in pending["drafts"]] == [d2["draft"]["id"], d1["draft"]["id"]]

    review = draft_service.approve(
        reviewer, d1["draft"]["id"], edited_body="Your refund of $20 is on its way."
    )
    draft_service.reject(reviewer, d2["draft"]["id"], "We never suggest rebooting.")

    async def read():
        async with connect(live.url, token, mode) as client:
            everything = await ok(client, "list_drafts")
            approved = await ok(client, "list_drafts", {"status": "approved"})
            by_conv = await ok(client, "list_drafts", {"conversation_id": other.display_id})
            paged = await walk(client, "list_drafts", {"limit": 1}, "drafts")
            thread = await ok(client, "get_conversation", {"conversation_id": conv.display_id})
            old = await ok(
                client,
                "create_draft_reply",
                {"conversation_id": third.display_id, "body": "First idea"},
            )
            new = await ok(
                client,
                "create_draft_reply",
                {"conversation_id": third.display_id, "body": "Better idea"},
            )
            superseded = await ok(client, "list_drafts", {"status": "superseded"})
            pending = await ok(client, "list_drafts", {"status": "pending"})
        assert [d["id"] for d in superseded["drafts"]] == [old["draft"]["id"]]
        assert superseded["drafts"][0]["outcome"] == "superseded"
        assert [d["id"] for d in pending["drafts"]] == [new["draft"]["id"]]
        return everything, approved, by_conv, paged, thread

    everything, approved, by_conv, paged, thread = run(read)
    by_id = {d["id"]: d for d in everything["drafts"]}
    edited = by_id[d1["draft"]["id"]]
    assert edited["outcome"] == "approved_with_edits"
    assert edited["final_body"] == "Your refund of $20 is on its way."
    assert edited["reviewer"] == {"id": desk.admin.id, "name": "Ada Admin"}
    assert edited["sent_message_id"] == review.message.id
    rejected = by_id[d2["draft"]["id"]]
    assert rejected["outcome"] == "rejected"
    assert rejected["rejection_reason"] == "We never suggest rebooting."
    assert rejected["final_body"] is None
    assert [d["id"] for d in approved["drafts"]] == [d1["draft"]["id"]]
    assert [d["id"] for d in by_conv["drafts"]] == [d2["draft"]["id"]]
    assert [d["id"] for d in paged] == [d2["draft"]["id"], d1["draft"]["id"]]
    sent = thread["messages"][-1]
    assert sent["body"] == "Your refund of $20 is on its way."
    assert sent["author_role"] == "bot"
    assert sent["approved_by"] == {"id": desk.admin.id, "name": "Ada Admin"}
    assert audit_outcomes(desk.workspace.id, "add_private_note", token_id) == [
        "ok",
        "ok",
        "replayed",
    ]
    assert audit_outcomes(desk.workspace.id, "create_draft_reply", token_id) == ["ok"] * 4
