"""The steps every conversation action shares: numbering, messages, change events."""

from __future__ import annotations

from sqlalchemy import text

from deskwoot.extensions import db
from deskwoot.models import Contact, Conversation, Inbox, Message, Outbox, utcnow
from deskwoot.policy import Actor
from deskwoot.services.activity import event_recorder as events
from deskwoot.services.conversations import attachments
from deskwoot.services.conversations.attachments import Upload


def next_display_id(workspace_id: int) -> int:
    """Take the next per-workspace number; the UPDATE row lock serialises concurrent takers."""
    # The feed lock first: every new conversation appends an event right after, and a writer
    # that already holds the feed lock (a contact.created before it) would otherwise wait
    # for this row while we wait for the feed lock — a deadlock on PostgreSQL.
    events.lock_feed(workspace_id)
    return db.session.execute(
        text(
            "UPDATE workspaces SET next_display_id = next_display_id + 1 "
            "WHERE id = :id RETURNING next_display_id - 1"
        ),
        {"id": workspace_id},
    ).scalar_one()


def record_change(conversation: Conversation, actor: Actor, changes: dict, **event_actor) -> None:
    """Record a conversation change: bump updated_at and append conversation.updated."""
    conversation.updated_at = utcnow()
    events.append(
        actor,
        "conversation.updated",
        conversation=conversation,
        data={"display_id": conversation.display_id, "changes": changes},
        **event_actor,
    )


def add_message(
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
                # The message's identity on the wire, the same on every delivery attempt.
                delivery_id=f"msg_{message.id}",
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


def attach_uploads(message: Message, uploads: list[Upload]) -> None:
    """Store a teammate's files with their message, in its transaction (already checked
    against the limits: attachments.check_uploads). The name is the file's own name only —
    a browser may send a path — without control characters; the type as the browser said,
    which the download never trusts (attachments.download_type)."""
    for upload in uploads:
        attachments.add(
            db.session,
            message,
            upload_name(upload.filename),
            upload.content_type or "application/octet-stream",
            upload.data,
        )


def upload_name(filename: str | None) -> str:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name if name not in ("", ".", "..") else "attachment"


def open_conversation(
    actor: Actor, inbox: Inbox, contact: Contact, subject: str | None, actor_contact=None
) -> Conversation:
    now = utcnow()
    conversation = Conversation(
        workspace_id=inbox.workspace_id,
        display_id=next_display_id(inbox.workspace_id),
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
        **(contact_event_actor(actor_contact) if actor_contact else {}),
    )
    return conversation


def contact_event_actor(contact: Contact) -> dict:
    return {"actor_type": "contact", "actor_id": contact.id, "actor_name": contact.display_name}
