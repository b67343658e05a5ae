"""Conversations worked by the team and the bot: replies, notes, and the workflow."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, select

from deskwoot import policy
from deskwoot.database.prebuilt import Prebuilt
from deskwoot.database.transactions import write_transaction
from deskwoot.errors import Invalid
from deskwoot.extensions import db
from deskwoot.models import Contact, Conversation, ConversationLabel, Message, utcnow
from deskwoot.models.conversation import PRIORITIES, STATUSES
from deskwoot.policy import Actor
from deskwoot.services import validation
from deskwoot.services.conversations import posting
from deskwoot.services.conversations.attachments import Upload, check_uploads
from deskwoot.services.conversations.steps import (
    add_message,
    attach_uploads,
    open_conversation,
    record_change,
)
from deskwoot.services.directory import contacts as contact_service


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
        conversation = open_conversation(actor, inbox, target, subject)
        message = _post(actor, conversation, "outgoing", body)
    return conversation, message


def _contact_for_outbound(actor: Actor, fields: dict) -> Contact:
    """The contact to write to: the workspace's contact with that identifier or email, even
    one outside the actor's reach (policy.contact_to_write_to says why), else a new one."""
    if not isinstance(fields, dict):
        raise Invalid("contact must be an object.", field="contact")
    for field in ("identifier", "email"):
        value = fields.get(field)
        if value:
            value = contact_service._clean({field: value})[field]
            found = policy.contact_to_write_to(actor, field, value)
            if found is not None:
                return found
    return contact_service.create_contact(
        actor, **{k: v for k, v in fields.items() if k in ("name", "email", "identifier")}
    )


# --- messages by the team ----------------------------------------------------------------


def _post(actor: Actor, conversation: Conversation, kind: str, body: str) -> Message:
    """A message the actor writes itself (not one it approves for the bot)."""
    return add_message(
        actor, conversation, kind, body, sender_type=actor.sender_type, event_actor=actor
    )


def reply(actor: Actor, display_id: int, body: str, attachments: Sequence[Upload] = ()) -> Message:
    """Send a reply the customer will receive, with the teammate's files (checked against
    the size limits before anything is written, stored in the reply's own transaction).

    A bot may not reply while a human has the conversation (ARCHITECTURE §6); a human reply
    itself hands the conversation to the humans (posting.post, the reply's Core write).
    """
    policy.require_scope(actor, "conversations:reply")
    body = validation.body(body)
    uploads = check_uploads(list(attachments))
    with write_transaction():
        message = posting.post(actor, display_id, "outgoing", body)
        attach_uploads(message, uploads)
    return message


def send_approved_draft(
    actor: Actor, conversation: Conversation, body: str, bot_user_id: int, token_id: int | None
) -> Message:
    """Post a draft a teammate approved: sender the bot, approved_by the teammate."""
    bot = Actor(
        workspace_id=actor.workspace_id,
        user_id=bot_user_id,
        kind="bot",
        name="bot",
        token_id=token_id,
        via=actor.via,
    )
    return add_message(
        bot,
        conversation,
        "outgoing",
        body,
        sender_type="bot",
        approved_by_id=actor.user_id,
        event_actor=actor,
    )


def add_note(
    actor: Actor, display_id: int, body: str, attachments: Sequence[Upload] = ()
) -> Message:
    """Leave a private note (with files, as reply does): the team sees it, the customer never
    does."""
    policy.require_scope(actor, "conversations:note")
    body = validation.body(body)
    uploads = check_uploads(list(attachments))
    with write_transaction():
        message = posting.post(actor, display_id, "note", body)
        attach_uploads(message, uploads)
        return message


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
            raise Invalid(
                "snoozed_until must be a future time with a timezone.", field="snoozed_until"
            )
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
            record_change(conversation, actor, changes)
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
            record_change(conversation, actor, {"priority": [old, priority]})
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
            label.name.lower(): label for label in session.execute(policy.labels(actor)).scalars()
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
            session.add(
                ConversationLabel(conversation_id=conversation.id, label_id=by_name[name].id)
            )
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
            record_change(
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
    return update_labels(
        actor, display_id, add=sorted(target - current), remove=sorted(current - target)
    )


def update_attributes(actor: Actor, display_id: int, changes: dict) -> Conversation:
    """Merge custom attributes (a null value removes the key)."""
    policy.require_scope(actor, "conversations:manage")
    changes = validation.attributes(changes)
    with write_transaction():
        conversation = policy.get_conversation(actor, display_id)
        merged = validation.merge_attributes(conversation.custom_attributes, changes)
        if merged != conversation.custom_attributes:
            conversation.custom_attributes = merged
            record_change(conversation, actor, {"custom_attributes": sorted(changes)})
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
            record_change(conversation, actor, {"assignee_id": [old, assignee_id]})
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
            record_change(conversation, actor, changes)
    return conversation


def hand_back(actor: Actor, display_id: int) -> Conversation:
    """Let the bot reply again."""
    policy.require_human(actor, "hand a conversation back to the bot")
    with write_transaction():
        conversation = policy.get_conversation(actor, display_id)
        if conversation.handoff:
            conversation.handoff = False
            conversation.handoff_reason = None
            record_change(conversation, actor, {"handoff": [True, False]})
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
        add_message(
            actor,
            conversation,
            "note",
            f"Escalated to a human: {reason}",
            sender_type=actor.sender_type,
            event_actor=actor,
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
        record_change(conversation, actor, {**changes, "escalation_reason": reason})
    return conversation


# Run on every view of the conversation list: built once.
_DUE_SNOOZES = Prebuilt(
    select(Conversation.id).where(
        Conversation.workspace_id == bindparam("workspace_id"),
        Conversation.status == "snoozed",
        Conversation.snoozed_until.is_not(None),
        Conversation.snoozed_until <= bindparam("now"),
    )
)


def wake_due_snoozes(actor: Actor) -> int:
    """Reopen snoozed conversations whose time has come; returns how many woke."""
    params = {"workspace_id": actor.workspace_id, "now": utcnow()}
    due = [row.id for row in _DUE_SNOOZES.rows(params)]
    if not due:
        return 0
    system = Actor(
        workspace_id=actor.workspace_id,
        user_id=None,
        kind="system",
        name="Snooze timer",
        via=actor.via,
    )
    with write_transaction() as session:
        rows = (
            session.execute(
                select(Conversation).where(
                    Conversation.id.in_(due), Conversation.status == "snoozed"
                )
            )
            .scalars()
            .all()
        )
        for conversation in rows:
            conversation.status = "open"
            conversation.snoozed_until = None
            record_change(conversation, system, {"status": ["snoozed", "open"], "woke": True})
    return len(rows)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
