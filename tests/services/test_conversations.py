"""Conversation services: inbound, replies, notes, workflow — each with its event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from deskwoot.errors import Conflict, Invalid, NotFound
from deskwoot.extensions import db
from deskwoot.models import Conversation, Event, Message, Outbox, utcnow
from deskwoot.services.conversations import inbound, reads
from deskwoot.services.conversations import workflow as svc
from deskwoot.services.conversations.filters import ConversationFilters
from tests import factories as f


@pytest.fixture
def desk(app):
    ws = f.make_workspace()
    admin = f.make_user(ws, role="admin", name="Ada Admin")
    inbox = f.make_inbox(ws, name="Support")
    return ws, inbox, f.actor_for(admin, ws), admin


def events_of(type_: str) -> list[Event]:
    return list(db.session.execute(select(Event).where(Event.type == type_)).scalars())


def test_inbound_opens_conversation_with_contact_and_events(desk):
    ws, inbox, _, _ = desk
    result = inbound.receive_inbound(
        inbox,
        {"email": "Jane@Example.com", "name": "Jane"},
        "My parcel never arrived",
        subject="Where is my parcel?",
    )
    assert result.created
    conv = result.conversation
    assert conv.display_id == 1 and conv.status == "open"
    assert conv.contact.email == "jane@example.com"
    assert result.message.kind == "incoming" and result.message.sender_type == "contact"
    assert [e.type for e in db.session.execute(select(Event).order_by(Event.id)).scalars()] == [
        "contact.created",
        "conversation.created",
        "message.created",
    ]
    assert events_of("message.created")[0].actor_type == "contact"


def test_inbound_continues_open_conversation_and_numbers_per_workspace(desk):
    ws, inbox, _, _ = desk
    first = inbound.receive_inbound(inbox, {"email": "a@example.com"}, "one").conversation
    again = inbound.receive_inbound(inbox, {"email": "a@example.com"}, "two").conversation
    other = inbound.receive_inbound(inbox, {"email": "b@example.com"}, "three").conversation
    assert first.id == again.id
    assert (first.display_id, other.display_id) == (1, 2)
    other_ws = f.make_workspace()
    other_inbox = f.make_inbox(other_ws)
    assert (
        inbound.receive_inbound(
            other_inbox, {"email": "a@example.com"}, "x"
        ).conversation.display_id
        == 1
    )


def test_inbound_dedupes_on_source_id(desk):
    _, inbox, _, _ = desk
    one = inbound.receive_inbound(inbox, {"email": "a@example.com"}, "hi", source_id="m-1")
    two = inbound.receive_inbound(inbox, {"email": "a@example.com"}, "hi", source_id="m-1")
    assert not two.created and two.message.id == one.message.id
    assert db.session.scalar(select(func.count()).select_from(Message)) == 1


def test_inbound_after_resolve_opens_new_conversation_but_named_one_reopens(desk):
    _, inbox, admin, _ = desk
    conv = inbound.receive_inbound(inbox, {"email": "a@example.com"}, "hi").conversation
    svc.set_status(admin, conv.display_id, "resolved")
    fresh = inbound.receive_inbound(inbox, {"email": "a@example.com"}, "again").conversation
    assert fresh.display_id == 2
    svc.set_status(admin, fresh.display_id, "resolved")
    reopened = inbound.receive_inbound(
        inbox, {"email": "a@example.com"}, "back", conversation_display_id=1
    ).conversation
    assert reopened.display_id == 1 and reopened.status == "open"


def test_reply_is_outgoing_queued_and_hands_off_to_humans(desk):
    _, inbox, admin, _ = desk
    conv = f.make_conversation(inbox)
    message = svc.reply(admin, conv.display_id, "  We are on it.  ")
    assert message.kind == "outgoing" and message.body == "We are on it."
    assert message.sender_type == "user" and message.delivery_status == "pending"
    assert db.session.scalar(select(Outbox.message_id)) == message.id
    assert db.session.get(Conversation, conv.id).handoff is True


def test_note_is_private_and_does_not_touch_activity(desk):
    _, inbox, admin, _ = desk
    conv = f.make_conversation(inbox)
    before = conv.last_activity_at
    note = svc.add_note(admin, conv.display_id, "Customer is a VIP")
    assert note.kind == "note"
    assert db.session.get(Conversation, conv.id).last_activity_at == before
    assert db.session.scalar(select(func.count()).select_from(Outbox)) == 0


@pytest.mark.parametrize("body", ["", "   ", "x" * 20_001, "nul\x00byte", "\ud800"])
def test_reply_rejects_bad_bodies_and_writes_nothing(desk, body):
    _, inbox, admin, _ = desk
    conv = f.make_conversation(inbox)
    count = db.session.scalar(select(func.count()).select_from(Event))
    with pytest.raises(Invalid):
        svc.reply(admin, conv.display_id, body)
    assert db.session.scalar(select(func.count()).select_from(Event)) == count


def test_bot_reply_refused_during_handoff_but_notes_allowed(desk):
    ws, inbox, admin, _ = desk
    conv = f.make_conversation(inbox)
    bot = f.bot_actor(ws)
    svc.reply(bot, conv.display_id, "Bot answer")  # allowed before takeover
    svc.take_over(admin, conv.display_id)
    with pytest.raises(Conflict, match="taken over"):
        svc.reply(bot, conv.display_id, "Bot again")
    svc.add_note(bot, conv.display_id, "Context for the human")
    svc.hand_back(admin, conv.display_id)
    svc.reply(bot, conv.display_id, "Bot is back")


def test_status_snooze_and_wake(desk):
    _, inbox, admin, _ = desk
    conv = f.make_conversation(inbox)
    with pytest.raises(Invalid):
        svc.set_status(admin, conv.display_id, "snoozed", utcnow() - timedelta(hours=1))
    with pytest.raises(Invalid):
        svc.set_status(admin, conv.display_id, "closed")
    svc.set_status(admin, conv.display_id, "snoozed", utcnow() + timedelta(hours=1))
    assert svc.wake_due_snoozes(admin) == 0
    db.session.get(Conversation, conv.id).snoozed_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert svc.wake_due_snoozes(admin) == 1
    woke = db.session.get(Conversation, conv.id)
    assert woke.status == "open" and woke.snoozed_until is None


def test_priority_labels_attributes_and_events(desk):
    ws, inbox, admin, _ = desk
    f.make_label(ws, "billing")
    f.make_label(ws, "vip")
    conv = f.make_conversation(inbox)
    svc.set_priority(admin, conv.display_id, "urgent")
    svc.update_labels(admin, conv.display_id, add=["Billing", "vip"])
    svc.update_labels(admin, conv.display_id, remove=["vip"])
    with pytest.raises(Invalid, match="Unknown label"):
        svc.update_labels(admin, conv.display_id, add=["nope"])
    svc.update_attributes(admin, conv.display_id, {"order": "A-1", "plan": "pro"})
    svc.update_attributes(admin, conv.display_id, {"plan": None})
    conv = db.session.get(Conversation, conv.id)
    assert conv.priority == "urgent"
    assert [label.name for label in conv.labels] == ["billing"]
    assert conv.custom_attributes == {"order": "A-1"}
    changes = [e.data["changes"] for e in events_of("conversation.updated")]
    assert {"priority": ["none", "urgent"]} in changes
    assert {"labels": {"added": ["billing", "vip"], "removed": []}} in changes


def test_assign_needs_a_teammate_who_works_the_inbox(desk):
    ws, inbox, admin, admin_user = desk
    member = f.make_user(ws, inboxes=[inbox])
    outsider = f.make_user(ws)
    stranger = f.make_user(f.make_workspace())
    conv = f.make_conversation(inbox)
    svc.assign(admin, conv.display_id, member.id)
    assert db.session.get(Conversation, conv.id).assignee_id == member.id
    with pytest.raises(Invalid, match="does not work"):
        svc.assign(admin, conv.display_id, outsider.id)
    with pytest.raises(NotFound):
        svc.assign(admin, conv.display_id, stranger.id)
    svc.assign(admin, conv.display_id, admin_user.id)  # admins work every inbox
    svc.assign(admin, conv.display_id, None)
    assert db.session.get(Conversation, conv.id).assignee_id is None


def test_take_over_assigns_the_taker_when_unassigned(desk):
    _, inbox, admin, admin_user = desk
    conv = f.make_conversation(inbox)
    svc.take_over(admin, conv.display_id)
    conv = db.session.get(Conversation, conv.id)
    assert conv.handoff and conv.assignee_id == admin_user.id


def test_escalate_notes_reason_raises_priority_and_sets_handoff(desk):
    ws, inbox, _, admin_user = desk
    conv = f.make_conversation(inbox)
    bot = f.bot_actor(ws)
    svc.escalate(
        bot, conv.display_id, "Customer asks for a refund over $500", assignee_id=admin_user.id
    )
    conv = db.session.get(Conversation, conv.id)
    assert conv.handoff and conv.priority == "high" and conv.assignee_id == admin_user.id
    note = db.session.execute(select(Message).where(Message.kind == "note")).scalar_one()
    assert "refund over $500" in note.body and note.sender_type == "bot"


def test_start_conversation_outbound_to_new_or_existing_contact(desk):
    ws, inbox, admin, _ = desk
    conv, message = svc.start_conversation(
        admin,
        inbox.id,
        "Welcome aboard!",
        contact={"email": "new@example.com"},
        subject="Onboarding",
    )
    assert conv.display_id == 1 and message.kind == "outgoing"
    assert conv.contact.created_via == "web"
    again, _ = svc.start_conversation(admin, inbox.id, "Checking in", contact_id=conv.contact_id)
    assert again.contact_id == conv.contact_id and again.display_id == 2
    with pytest.raises(Invalid):
        svc.start_conversation(admin, inbox.id, "x")


def test_listing_filters_and_search(desk):
    ws, inbox, admin, admin_user = desk
    billing = f.make_inbox(ws, name="Billing")
    f.make_label(ws, "refund")
    a = f.make_conversation(inbox, content="The blender arrived broken")
    b = f.make_conversation(billing, content="Invoice question", subject="VAT number")
    svc.update_labels(admin, a.display_id, add=["refund"])
    svc.set_priority(admin, b.display_id, "high")
    svc.assign(admin, b.display_id, admin_user.id)

    def ids(**filters):
        rows, _ = reads.list_conversations(admin, ConversationFilters(**filters))
        return sorted(r.display_id for r in rows)

    assert ids() == [1, 2]
    assert ids(inbox_id=billing.id) == [2]
    assert ids(label="REFUND") == [1]
    assert ids(priority="high") == [2]
    assert ids(assignee="me") == [2]
    assert ids(assignee="unassigned") == [1]
    assert ids(query="blender") == [1]
    assert ids(query="blend") == [1]  # prefix while typing
    assert ids(query="vat") == [2]  # subject
    assert ids(query=a.contact.email) == [1]  # contact email
    assert ids(query='"; DROP TABLE messages; --') == []
    assert ids(status="resolved") == []
    with pytest.raises(Invalid):
        ids(status="bogus")
