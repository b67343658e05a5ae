"""The triage tools end to end: update_conversation (all or nothing), assign_conversation
and escalate_to_human (after which the bot may note and draft but not reply)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from deskwoot.extensions import db
from deskwoot.models import Event, Message, utcnow
from deskwoot.services.conversations import workflow as conversation_service
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


def test_update_conversation(live, mode):
    desk = make_desk()
    conv = f.make_conversation(desk.inbox)
    f.make_label(desk.workspace, "refund")
    f.make_label(desk.workspace, "vip")
    conversation_service.update_labels(desk.admin_actor, conv.display_id, add=["vip"])
    conversation_service.update_attributes(
        desk.admin_actor, conv.display_id, {"plan": "pro", "seats": 3}
    )
    token = desk.mint()
    until = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    cid = conv.display_id

    async def main():
        async with connect(live.url, token, mode) as client:
            snoozed = await ok(
                client,
                "update_conversation",
                {
                    "conversation_id": cid,
                    "status": "snoozed",
                    "snoozed_until": until.isoformat().replace("+00:00", "Z"),
                },
            )
            changed = await ok(
                client,
                "update_conversation",
                {
                    "conversation_id": cid,
                    "priority": "high",
                    "add_labels": ["Refund"],
                    "remove_labels": ["vip"],
                    "custom_attributes": {"seats": None, "tier": "gold"},
                },
            )
            unknown = await fails(
                client,
                "update_conversation",
                {
                    "conversation_id": cid,
                    "priority": "low",
                    "status": "resolved",
                    "add_labels": ["nope"],
                },
            )
            fresh()
            row = conversation_row(desk.workspace, cid)
            assert (row.status, row.priority) == ("snoozed", "high")  # all or nothing
            nothing = await fails(client, "update_conversation", {"conversation_id": cid})
            bad = await fails(
                client, "update_conversation", {"conversation_id": cid, "priority": "extreme"}
            )
            resolved = await ok(
                client, "update_conversation", {"conversation_id": cid, "status": "resolved"}
            )
        return snoozed, changed, unknown, nothing, bad, resolved

    snoozed, changed, unknown, nothing, bad, resolved = run(main)
    assert snoozed["conversation"]["status"] == "snoozed"
    assert snoozed["conversation"]["snoozed_until"] == until.isoformat().replace("+00:00", "Z")
    detail = changed["conversation"]
    assert detail["priority"] == "high"
    assert detail["labels"] == ["refund"]
    assert detail["custom_attributes"] == {"plan": "pro", "tier": "gold"}
    assert unknown["code"] == "invalid" and "nope" in unknown["message"]
    assert nothing["code"] == "invalid"
    assert bad["code"] == "invalid_arguments"
    assert resolved["conversation"]["status"] == "resolved"
    assert resolved["conversation"]["snoozed_until"] is None
    fresh()
    row = conversation_row(desk.workspace, cid)
    assert (row.status, row.priority, row.snoozed_until) == ("resolved", "high", None)
    assert [label.name for label in row.labels] == ["refund"]
    assert row.custom_attributes == {"plan": "pro", "tier": "gold"}
    # The refused update changed nothing, not even the valid parts, and wrote no event.
    changes = [
        e.data["changes"]
        for e in db.session.execute(
            select(Event)
            .where(Event.conversation_id == row.id, Event.type == "conversation.updated")
            .order_by(Event.id)
        ).scalars()
    ]
    assert not any(c.get("priority", [None, None])[1] == "low" for c in changes)
    token_id = token_row(desk.workspace.id, token).id
    assert audit_outcomes(desk.workspace.id, "update_conversation", token_id) == [
        "ok",
        "ok",
        "error",
        "error",
        "error",
        "ok",
    ]


def test_assign_conversation(live, mode):
    desk = make_desk()
    conv = f.make_conversation(desk.inbox)
    agent = f.make_user(desk.workspace, role="agent", inboxes=[desk.inbox], name="Ann")
    outsider = f.make_user(desk.workspace, role="agent", inboxes=[desk.other_inbox])
    stranger = f.make_user(f.make_workspace(), role="admin")
    token = desk.mint()
    cid = conv.display_id

    async def main():
        async with connect(live.url, token, mode) as client:
            to_agent = await ok(
                client, "assign_conversation", {"conversation_id": cid, "assignee_id": agent.id}
            )
            to_outsider = await fails(
                client, "assign_conversation", {"conversation_id": cid, "assignee_id": outsider.id}
            )
            to_stranger = await fails(
                client, "assign_conversation", {"conversation_id": cid, "assignee_id": stranger.id}
            )
            to_admin = await ok(
                client,
                "assign_conversation",
                {"conversation_id": cid, "assignee_id": desk.admin.id},
            )
            fresh()
            assert conversation_row(desk.workspace, cid).assignee_id == desk.admin.id
            unassigned = await ok(
                client, "assign_conversation", {"conversation_id": cid, "assignee_id": None}
            )
        return to_agent, to_outsider, to_stranger, to_admin, unassigned

    to_agent, to_outsider, to_stranger, to_admin, unassigned = run(main)
    assert to_agent["conversation"]["assignee"] == {"id": agent.id, "name": "Ann"}
    assert to_outsider["code"] == "invalid" and "does not work" in to_outsider["message"]
    assert to_stranger["code"] == "not_found"
    assert to_admin["conversation"]["assignee"]["id"] == desk.admin.id
    assert unassigned["conversation"]["assignee"] is None
    fresh()
    assert conversation_row(desk.workspace, cid).assignee_id is None
    token_id = token_row(desk.workspace.id, token).id
    assert audit_outcomes(desk.workspace.id, "assign_conversation", token_id) == [
        "ok",
        "error",
        "denied",
        "ok",
        "ok",
    ]


def test_escalate_to_human_stops_bot_replies(live, mode):
    desk = make_desk()
    conv = f.make_conversation(desk.inbox)
    agent = f.make_user(desk.workspace, role="agent", inboxes=[desk.inbox], name="Ann")
    conversation_service.set_status(desk.admin_actor, conv.display_id, "pending")
    token = desk.mint()
    cid = conv.display_id

    async def main():
        async with connect(live.url, token, mode) as client:
            escalated = await ok(
                client,
                "escalate_to_human",
                {
                    "conversation_id": cid,
                    "reason": "Customer asks for a chargeback",
                    "assignee_id": agent.id,
                },
            )
            refused = await fails(
                client,
                "reply_to_conversation",
                {"conversation_id": cid, "body": "Hello?", "idempotency_key": "after-handoff"},
            )
            note = await ok(
                client, "add_private_note", {"conversation_id": cid, "body": "Still watching"}
            )
            draft = await ok(
                client, "create_draft_reply", {"conversation_id": cid, "body": "Suggested answer"}
            )
        return escalated, refused, note, draft

    escalated, refused, note, draft = run(main)
    detail = escalated["conversation"]
    assert detail["handoff"] is True
    assert detail["priority"] == "high"
    assert detail["status"] == "open"
    assert detail["assignee"] == {"id": agent.id, "name": "Ann"}
    assert detail["handoff_reason"] == "Customer asks for a chargeback"
    assert refused["code"] == "conflict"
    assert "taken over" in refused["message"]
    assert note["message"]["kind"] == "note"
    assert draft["draft"]["status"] == "pending"
    fresh()
    row = conversation_row(desk.workspace, cid)
    assert (row.handoff, row.priority, row.assignee_id) == (True, "high", agent.id)
    bodies = [
        m.body
        for m in db.session.execute(
            select(Message)
            .where(Message.conversation_id == row.id, Message.kind == "note")
            .order_by(Message.id)
        ).scalars()
    ]
    assert bodies == ["Escalated to a human: Customer asks for a chargeback", "Still watching"]
    assert count(Message, Message.conversation_id == row.id, Message.kind == "outgoing") == 0
    # A refused reply stores no idempotency key: after a hand-back the same key works.
    conversation_service.hand_back(desk.admin_actor, cid)

    async def retry():
        async with connect(live.url, token, mode) as client:
            return await ok(
                client,
                "reply_to_conversation",
                {"conversation_id": cid, "body": "Hello?", "idempotency_key": "after-handoff"},
            )

    assert run(retry)["message"]["body"] == "Hello?"
