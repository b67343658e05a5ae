"""Conversations: arriving, replying, noting, and moving through the team's workflow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from deskwoot import policy
from deskwoot.database import write_transaction
from deskwoot.errors import Conflict, Invalid, NotFound
from deskwoot.extensions import db
from deskwoot.models import (
    Contact,
    Conversation,
    ConversationLabel,
    Inbox,
    Message,
    Outbox,
    utcnow,
)
from deskwoot.models.conversation import PRIORITIES, STATUSES
from deskwoot.policy import Actor
from deskwoot.services import contacts as contact_service
from deskwoot.services import events, validation


@dataclass
class Inbound:
    conversation: Conversation
    message: Message
    created: bool  # False when source_id matched an earlier message


def _next_display_id(workspace_id: int) -> int:
    """Take the next per-workspace number; the UPDATE row lock serialises concurrent takers."""
    return db.session.execute(
        text(
            "UPDATE workspaces SET next_display_id = next_display_id + 1 "
            "WHERE id = :id RETURNING next_display_id - 1"
        ),
        {"id": workspace_id},
    ).scalar_one()


def _changed(conversation: Conversation, actor: Actor, changes: dict, **event_actor) -> None:
    """Record a conversation change: bump updated_at and append conversation.updated."""
    conversation.updated_at = utcnow()
    events.append(
        actor,
        "conversation.updated",
        conversation=conversation,
        data={"display_id": conversation.display_id, "changes": changes},
        **event_actor,
    )


def _add_message(
    actor: Actor | None,
    conversation: Conversation,
    kind: str,
    body: str,
    *,
    sender_type: str,
    sender_contact_id: int | None = None,
    source_id: str | None = None,
    approved_by_id: int | None = None,
    event_actor: Actor,
    event_overrides: dict | None = None,
) -> Message:
    now = utcnow()
    message = Message(
        workspace_id=conversation.workspace_id,
        conversation_id=conversation.id,
        inbox_id=conversation.inbox_id,
        kind=kind,
        sender_type=sender_type,
        sender_contact_id=sender_contact_id,
        sender_user_id=actor.user_id if actor else None,
        token_id=actor.token_id if actor else None,
        approved_by_id=approved_by_id,
        body=body,
        source_id=source_id,
        delivery_status="pending" if kind == "outgoing" else None,
        created_at=now,
    )
    db.session.add(message)
    db.session.flush()
    if kind == "outgoing":
        db.session.add(
            Outbox(
                workspace_id=conversation.workspace_id,
                message_id=message.id,
                channel=conversation.inbox.channel,
                created_at=now,
            )
        )
    if kind != "note":
        conversation.last_activity_at = now
    conversation.updated_at = now
    events.append(
        event_actor,
        "message.created",
        conversation=conversation,
        data={
            "display_id": conversation.display_id,
            "message_id": message.id,
            "kind": kind,
            "sender_type": sender_type,
        },
        **(event_overrides or {}),
    )
    return message


# --- inbound ------------------------------------------------------------------------------


def receive_inbound(
    inbox: Inbox,
    contact_fields: dict,
    content: str,
    source_id: str | None = None,
    conversation_display_id: int | None = None,
    subject: str | None = None,
) -> Inbound:
    """Take a customer message from an inbox's channel (DESIGN §3, the inbound hook)."""
    content = validation.body(content, "content")
    source_id = validation.text(source_id, "source_id", max_len=255)
    subject = validation.text(subject, "subject", max_len=300)
    if not isinstance(contact_fields, dict):
        raise Invalid("contact must be an object.", field="contact")
    args = (inbox, contact_fields, content, source_id, conversation_display_id, subject)
    try:
        return _receive(*args)
    except IntegrityError:
        # PostgreSQL lets two concurrent deliveries reach the INSERT. If they carried the same
        # source_id, answer with the message the winner stored; if they raced to create the
        # same contact, the contact exists now, so try once more.
        if source_id:
            existing = db.session.execute(
                select(Message).where(Message.inbox_id == inbox.id,
                                      Message.source_id == source_id)
            ).scalar_one_or_none()
            if existing is not None:
                return Inbound(db.session.get(Conversation, existing.conversation_id),
                               existing, False)
        return _receive(*args)


def _receive(inbox, contact_fields, content, source_id, conversation_display_id, subject):
    hook = Actor(
        workspace_id=inbox.workspace_id, user_id=None, kind="system", name=inbox.name, via="hook"
    )
    with write_transaction() as session:
        if source_id:
            existing = session.execute(
                select(Message).where(Message.inbox_id == inbox.id, Message.source_id == source_id)
            ).scalar_one_or_none()
            if existing is not None:
                return Inbound(session.get(Conversation, existing.conversation_id), existing, False)
        contact = contact_service.find_or_create_for_inbound(hook, inbox.id, contact_fields)
        conversation = _conversation_for_inbound(hook, inbox, contact, conversation_display_id)
        created = conversation is None
        if created:
            conversation = _open_conversation(hook, inbox, contact, subject, actor_contact=contact)
        elif conversation.status != "open":
            old = conversation.status
            conversation.status = "open"
            conversation.snoozed_until = None
            _changed(
                conversation, hook, {"status": [old, "open"]}, **_contact_event_actor(contact)
            )
        message = _add_message(
            None,
            conversation,
            "incoming",
            content,
            sender_type="contact",
            sender_contact_id=contact.id,
            source_id=source_id,
            event_actor=hook,
            event_overrides=_contact_event_actor(contact),
        )
    return Inbound(conversation, message, True)


def _contact_event_actor(contact: Contact) -> dict:
    return {"actor_type": "contact", "actor_id": contact.id, "actor_name": contact.display_name}


def _conversation_for_inbound(
    hook: Actor, inbox: Inbox, contact: Contact, display_id: int | None
) -> Conversation | None:
    if display_id is not None:
        conversation = db.session.execute(
            select(Conversation).where(
                Conversation.workspace_id == inbox.workspace_id,
                Conversation.display_id == display_id,
                Conversation.inbox_id == inbox.id,
                Conversation.contact_id == contact.id,
            )
        ).scalar_one_or_none()
        if conversation is None:
            raise NotFound(
                f"Conversation {display_id} was not found for this contact in this inbox."
            )
        return conversation
    return db.session.execute(
        select(Conversation)
        .where(
            Conversation.contact_id == contact.id,
            Conversation.inbox_id == inbox.id,
            Conversation.status != "resolved",
        )
        .order_by(Conversation.last_activity_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def _open_conversation(
    actor: Actor, inbox: Inbox, contact: Contact, subject: str | None, actor_contact=None
) -> Conversation:
    now = utcnow()
    conversation = Conversation(
        workspace_id=inbox.workspace_id,
        display_id=_next_display_id(inbox.workspace_id),
        inbox_id=inbox.id,
        contact_id=contact.id,
        subject=subject,
        status="open",
        priority="none",
        custom_attributes={},
        handoff=False,
        last_activity_at=now,
        created_at=now,
        updated_at=now,
    )
    db.session.add(conversation)
    db.session.flush()
    events.append(
        actor,
        "conversation.created",
        conversation=conversation,
        data={"display_id": conversation.display_id, "subject": subject, "status": "open"},
        **(_contact_event_actor(actor_contact) if actor_contact else {}),
    )
    return conversation


def start_conversation(
    actor: Actor,
    inbox_id: int,
    body: str,
    *,
    contact_id: int | None = None,
    contact: dict | None = None,
    subject: str | None = None,
) -> tuple[Conversation, Message]:
    """Open an outbound conversation to a contact in an inbox the actor can use."""
    policy.require_scope(actor, "conversations:create")
    body = validation.body(body)
    subject = validation.text(subject, "subject", max_len=300)
    if (contact_id is None) == (contact is None):
        raise Invalid("Give exactly one of contact_id or contact.", field="contact")
    with write_transaction():
        inbox = policy.get_inbox(actor, inbox_id)
        if contact_id is not None:
            target = policy.get_contact(actor, contact_id)
        else:
            target = _contact_for_outbound(actor, contact)
        conversation = _open_conversation(actor, inbox, target, subject)
        message = _add_message(
            actor, conversation, "outgoing", body, sender_type=actor.sender_type,
            event_actor=actor,
        )
    return conversation, message


def _contact_for_outbound(actor: Actor, fields: dict) -> Contact:
    if not isinstance(fields, dict):
        raise Invalid("contact must be an object.", field="contact")
    for field in ("identifier", "email"):
        value = fields.get(field)
        if value:
            value = contact_service._clean({field: value})[field]
            found = db.session.execute(
                policy.contacts(actor).where(getattr(Contact, field) == value)
            ).scalar_one_or_none()
            if found is not None:
                return found
    return contact_service.create_contact(
        actor, **{k: v for k, v in fields.items() if k in ("name", "email", "identifier")}
    )


# --- messages by the team ----------------------------------------------------------------


def reply(actor: Actor, display_id: int, body: str) -> Message:
    """Send a reply the customer will receive.

    A bot may not reply while a human has the conversation (DESIGN §5.6); a human reply
    itself hands the conversation to the humans.
    """
    policy.require_scope(actor, "conversations:reply")
    body = validation.body(body)
    with write_transaction():
        conversation = policy.get_conversation(actor, display_id)
        if actor.is_bot and conversation.handoff:
            raise Conflict(
                "A human teammate has taken over this conversation, so bot replies are "
                "paused. Add a private note or create a draft instead.",
                reason="handoff",
            )
        message = _add_message(
            actor, conversation, "outgoing", body, sender_type=actor.sender_type,
            event_actor=actor,
        )
        if actor.kind == "human" and not conversation.handoff:
            conversation.handoff = True
            _changed(conversation, actor, {"handoff": [False, True]})
    return message


def send_approved_draft(
    actor: Actor, conversation: Conversation, body: str, bot_user_id: int, token_id: int | None
) -> Message:
    """Post a draft a teammate approved: sender the bot, approved_by the teammate."""
    bot = Actor(
        workspace_id=actor.workspace_id, user_id=bot_user_id, kind="bot", name="bot",
        token_id=token_id, via=actor.via,
    )
    return _add_message(
        bot, conversation, "outgoing", body, sender_type="bot", approved_by_id=actor.user_id,
        event_actor=actor,
    )


def add_note(actor: Actor, display_id: int, body: str) -> Message:
    """Leave a private note: the team sees it, the customer never does."""
    policy.require_scope(actor, "conversations:note")
    body = validation.body(body)
    with write_transaction():
        conversation = policy.get_conversation(actor, display_id)
        return _add_message(
            actor, conversation, "note", body, sender_type=actor.sender_type, event_actor=actor
        )


# --- workflow ------------------------------------------------------------------------------


def set_status(
    actor: Actor, display_id: int, status: str, snoozed_until: datetime | None = None
) -> Conversation:
    """Open, set pending, snooze (optionally until a time) or resolve a conversation."""
    policy.require_scope(actor, "conversations:manage")
    if status not in STATUSES:
        raise Invalid(f"status must be one of: {', '.join(STATUSES)}.", field="status")
    if snoozed_until is not None:
        if status != "snoozed":
            raise Invalid("snoozed_until only goes with status 'snoozed'.", field="snoozed_until")
        if snoozed_until.tzinfo is None or snoozed_until <= utcnow():
            raise Invalid("snoozed_until must be a future time with a timezone.",
                          field="snoozed_until")
    with write_transaction():
        conversation = policy.get_conversation(actor, display_id)
        changes = {}
        if conversation.status != status:
            changes["status"] = [conversation.status, status]
            conversation.status = status
        new_until = snoozed_until if status == "snoozed" else None
        if conversation.snoozed_until != new_until:
            changes["snoozed_until"] = [_iso(conversation.snoozed_until), _iso(new_until)]
            conversation.snoozed_until = new_until
        if changes:
            _changed(conversation, actor, changes)
    return conversation


def set_priority(actor: Actor, display_id: int, priority: str) -> Conversation:
    policy.require_scope(actor, "conversations:manage")
    if priority not in PRIORITIES:
        raise Invalid(f"priority must be one of: {', '.join(PRIORITIES)}.", field="priority")
    with write_transaction():
        conversation = policy.get_conversation(actor, display_id)
        if conversation.priority != priority:
            old = conversation.priority
            conversation.priority = priority
            _changed(conversation, actor, {"priority": [old, priority]})
    return conversation


def update_labels(
    actor: Actor, display_id: int, add: list[str] = (), remove: list[str] = ()
) -> Conversation:
    """Add and remove labels by name; every name must be one of the workspace's labels."""
    policy.require_scope(actor, "conversations:manage")
    if not all(isinstance(n, str) for n in [*add, *remove]):
        raise Invalid("labels must be given by name.", field="labels")
    wanted = {n.strip().lower() for n in [*add, *remove]}
    with write_transaction() as session:
        conversation = policy.get_conversation(actor, display_id)
        by_name = {
            label.name.lower(): label
            for label in session.execute(policy.labels(actor)).scalars()
        }
        unknown = sorted(n for n in wanted if n not in by_name)
        if unknown:
            raise Invalid(
                f"Unknown label(s): {', '.join(unknown)}. Known labels: "
                f"{', '.join(sorted(by_name)) or 'none yet'}.",
                field="labels",
            )
        current = {label.name.lower() for label in conversation.labels}
        to_add = {n.strip().lower() for n in add} - current
        to_remove = {n.strip().lower() for n in remove} & current
        for name in sorted(to_add):
            session.add(ConversationLabel(conversation_id=conversation.id,
                                          label_id=by_name[name].id))
        if to_remove:
            session.execute(
                ConversationLabel.__table__.delete().where(
                    ConversationLabel.conversation_id == conversation.id,
                    ConversationLabel.label_id.in_([by_name[n].id for n in to_remove]),
                )
            )
        if to_add or to_remove:
            session.flush()
            session.expire(conversation, ["labels"])
            _changed(
                conversation,
                actor,
                {"labels": {"added": sorted(to_add), "removed": sorted(to_remove)}},
            )
    return conversation


def set_labels(actor: Actor, display_id: int, names: list[str]) -> Conversation:
    """Make the conversation's labels exactly `names` (the web form's checkboxes)."""
    conversation = policy.get_conversation(actor, display_id)
    current = {label.name.lower() for label in conversation.labels}
    target = {n.strip().lower() for n in names}
    return update_labels(actor, display_id, add=sorted(target - current),
                         remove=sorted(current - target))


def update_attributes(actor: Actor, display_id: int, changes: dict) -> Conversation:
    """Merge custom attributes (a null value removes the key)."""
    policy.require_scope(actor, "conversations:manage")
    changes = validation.attributes(changes)
    with write_transaction():
        conversation = policy.get_conversation(actor, display_id)
        merged = validation.merge_attributes(conversation.custom_attributes, changes)
        if merged != conversation.custom_attributes:
            conversation.custom_attributes = merged
            _changed(conversation, actor, {"custom_attributes": sorted(changes)})
    return conversation


def assign(actor: Actor, display_id: int, assignee_id: int | None) -> Conversation:
    """Give the conversation to a teammate who works its inbox, or unassign it (None)."""
    policy.require_scope(actor, "conversations:manage")
    with write_transaction():
        conversation = policy.get_conversation(actor, display_id)
        if assignee_id is not None:
            policy.require_assignable(actor, conversation, assignee_id)
        if conversation.assignee_id != assignee_id:
            old = conversation.assignee_id
            conversation.assignee_id = assignee_id
            db.session.flush()
            db.session.expire(conversation, ["assignee"])
            _changed(conversation, actor, {"assignee_id": [old, assignee_id]})
    return conversation


def take_over(actor: Actor, display_id: int) -> Conversation:
    """A teammate takes the conversation from the bot (assigning it to themselves if free)."""
    policy.require_human(actor, "take over a conversation")
    with write_transaction():
        conversation = policy.get_conversation(actor, display_id)
        changes = {}
        if not conversation.handoff:
            conversation.handoff = True
            conversation.handoff_reason = f"Taken over by {actor.name}"
            changes["handoff"] = [False, True]
        if conversation.assignee_id is None:
            policy.require_assignable(actor, conversation, actor.user_id)
            conversation.assignee_id = actor.user_id
            changes["assignee_id"] = [None, actor.user_id]
        if changes:
            _changed(conversation, actor, changes)
    return conversation


def hand_back(actor: Actor, display_id: int) -> Conversation:
    """Let the bot reply again."""
    policy.require_human(actor, "hand a conversation back to the bot")
    with write_transaction():
        conversation = policy.get_conversation(actor, display_id)
        if conversation.handoff:
            conversation.handoff = False
            conversation.handoff_reason = None
            _changed(conversation, actor, {"handoff": [True, False]})
    return conversation


def escalate(
    actor: Actor, display_id: int, reason: str, assignee_id: int | None = None
) -> Conversation:
    """Hand the conversation to a person: note the reason, raise priority, set handoff."""
    policy.require_scope(actor, "conversations:manage")
    reason = validation.text(reason, "reason", max_len=500, required=True)
    with write_transaction():
        conversation = policy.get_conversation(actor, display_id)
        if assignee_id is not None:
            policy.require_assignable(actor, conversation, assignee_id)
        _add_message(
            actor, conversation, "note", f"Escalated to a human: {reason}",
            sender_type=actor.sender_type, event_actor=actor,
        )
        changes = {}
        if not conversation.handoff:
            changes["handoff"] = [False, True]
            conversation.handoff = True
        conversation.handoff_reason = reason
        rank = PRIORITIES.index
        if rank(conversation.priority) < rank("high"):
            changes["priority"] = [conversation.priority, "high"]
            conversation.priority = "high"
        if assignee_id is not None and conversation.assignee_id != assignee_id:
            changes["assignee_id"] = [conversation.assignee_id, assignee_id]
            conversation.assignee_id = assignee_id
        if conversation.status != "open":
            changes["status"] = [conversation.status, "open"]
            conversation.status = "open"
            conversation.snoozed_until = None
        _changed(conversation, actor, {**changes, "escalation_reason": reason})
    return conversation


def wake_due_snoozes(actor: Actor) -> int:
    """Reopen snoozed conversations whose time has come; returns how many woke."""
    now = utcnow()
    due = db.session.execute(
        select(Conversation.id).where(
            Conversation.workspace_id == actor.workspace_id,
            Conversation.status == "snoozed",
            Conversation.snoozed_until.is_not(None),
            Conversation.snoozed_until <= now,
        )
    ).scalars().all()
    if not due:
        return 0
    system = Actor(workspace_id=actor.workspace_id, user_id=None, kind="system",
                   name="Snooze timer", via=actor.via)
    with write_transaction() as session:
        rows = session.execute(
            select(Conversation).where(Conversation.id.in_(due),
                                       Conversation.status == "snoozed")
        ).scalars().all()
        for conversation in rows:
            conversation.status = "open"
            conversation.snoozed_until = None
            _changed(conversation, system, {"status": ["snoozed", "open"], "woke": True})
    return len(rows)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
