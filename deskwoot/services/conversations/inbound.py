"""Customer messages arriving on an inbox's channel (ARCHITECTURE §7, the inbound hook)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from deskwoot.database.transactions import retry_transient, write_transaction
from deskwoot.errors import Invalid, NotFound
from deskwoot.extensions import db
from deskwoot.models import Contact, Conversation, Inbox, Message
from deskwoot.policy import Actor
from deskwoot.services import validation
from deskwoot.services.conversations.steps import (
    add_message,
    contact_event_actor,
    open_conversation,
    record_change,
)
from deskwoot.services.directory import contacts as contact_service

T = TypeVar("T")


@dataclass
class Inbound:
    conversation: Conversation
    message: Message
    created: bool  # False when source_id matched an earlier message


def receive_inbound(
    inbox: Inbox,
    contact_fields: dict,
    content: str,
    source_id: str | None = None,
    conversation_display_id: int | None = None,
    subject: str | None = None,
) -> Inbound:
    """Take a customer message from an inbox's channel (ARCHITECTURE §7, the inbound hook)."""
    content = validation.body(content, "content")
    source_id = validation.text(source_id, "source_id", max_len=255)
    subject = validation.text(subject, "subject", max_len=300)
    if not isinstance(contact_fields, dict):
        raise Invalid("contact must be an object.", field="contact")
    args = (inbox, contact_fields, content, source_id, conversation_display_id, subject)
    return store_once(
        inbox,
        source_id,
        lambda: _receive(*args),
        lambda existing: Inbound(
            db.session.get(Conversation, existing.conversation_id), existing, False
        ),
    )


def inbox_actor(inbox: Inbox, via: str = "hook") -> Actor:
    """The inbox itself acting: what a channel's customer messages are recorded under."""
    return Actor(
        workspace_id=inbox.workspace_id, user_id=None, kind="system", name=inbox.name, via=via
    )


def store_once(
    inbox: Inbox,
    source_id: str | None,
    attempt: Callable[[], T],
    found: Callable[[Message], T],
) -> T:
    """Run `attempt` (one write transaction storing a customer message), safe against a
    concurrent copy of the same message.

    PostgreSQL lets two concurrent deliveries reach the INSERT. If they carried the same
    source_id, answer `found(the message the winner stored)`; if they raced to create the
    same contact, the contact exists now, so try once more."""
    try:
        return retry_transient(attempt)
    except IntegrityError:
        if source_id:
            existing = find_by_source(inbox.id, source_id)
            if existing is not None:
                return found(existing)
        return attempt()


def find_by_source(inbox_id: int, source_id: str) -> Message | None:
    """The message a channel already delivered with this id (inbound dedupe)."""
    return db.session.execute(
        select(Message).where(Message.inbox_id == inbox_id, Message.source_id == source_id)
    ).scalar_one_or_none()


def reopen(conversation: Conversation, actor: Actor, contact: Contact) -> None:
    """A customer wrote again: a resolved, pending or snoozed conversation is open again."""
    if conversation.status == "open":
        return
    old = conversation.status
    conversation.status = "open"
    conversation.snoozed_until = None
    record_change(conversation, actor, {"status": [old, "open"]}, **contact_event_actor(contact))


def _receive(inbox, contact_fields, content, source_id, conversation_display_id, subject):
    hook = inbox_actor(inbox)
    with write_transaction():
        if source_id:
            existing = find_by_source(inbox.id, source_id)
            if existing is not None:
                return Inbound(
                    db.session.get(Conversation, existing.conversation_id), existing, False
                )
        contact = contact_service.find_or_create_for_inbound(hook, inbox.id, contact_fields)
        conversation = _conversation_for_inbound(hook, inbox, contact, conversation_display_id)
        if conversation is None:
            conversation = open_conversation(hook, inbox, contact, subject, actor_contact=contact)
        else:
            reopen(conversation, hook, contact)
        message = add_message(
            None,
            conversation,
            "incoming",
            content,
            sender_type="contact",
            sender_contact_id=contact.id,
            source_id=source_id,
            event_actor=hook,
            event_overrides=contact_event_actor(contact),
        )
    return Inbound(conversation, message, True)


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
