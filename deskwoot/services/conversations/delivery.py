"""Delivering outgoing messages: what the worker hands a channel, and recording the outcome.

The delivery worker (deskwoot/delivery/) claims outbox rows and calls a channel; these are
the service steps on either side of that call. Each outcome is written in one transaction
with its event (`message.delivered` / `message.failed`), so a poller sees a message's fate
exactly when it is recorded. Only the worker that holds the row's claim may record it: one
whose lease ran out (it stalled, another worker took over) changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from deskwoot.database.transactions import write_transaction
from deskwoot.extensions import db
from deskwoot.models import Contact, Conversation, Inbox, Message, Outbox, utcnow
from deskwoot.policy import Actor
from deskwoot.services.activity import actor_names as naming
from deskwoot.services.activity import event_recorder as events
from deskwoot.services.directory import inboxes

WORKER_NAME = "Delivery worker"


@dataclass(frozen=True)
class Outgoing:
    """One claimed outbox row with everything a channel needs to deliver it."""

    outbox_id: int
    delivery_id: str
    attempts: int  # attempts made before this one
    channel: str
    message_id: int
    body: str
    created_at: datetime
    sender_type: str
    sender_name: str
    display_id: int
    contact_id: int
    contact_name: str | None
    contact_email: str | None
    inbox_id: int
    webhook_url: str | None
    webhook_secret: str | None


def outgoing(outbox_id: int) -> Outgoing | None:
    """The claimed row `outbox_id` ready for its channel; None when it is gone (its message or
    workspace was deleted since)."""
    row = db.session.execute(
        select(Outbox, Message, Conversation, Contact, Inbox)
        .join(Message, Message.id == Outbox.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .join(Inbox, Inbox.id == Conversation.inbox_id)
        .where(Outbox.id == outbox_id)
    ).first()
    if row is None:
        return None
    outbox, message, conversation, contact, inbox = row
    return Outgoing(
        outbox_id=outbox.id,
        delivery_id=outbox.delivery_id or f"msg_{message.id}",
        attempts=outbox.attempts,
        channel=outbox.channel,
        message_id=message.id,
        body=message.body,
        created_at=message.created_at,
        sender_type=message.sender_type,
        sender_name=naming.of_message(message).name,
        display_id=conversation.display_id,
        contact_id=contact.id,
        contact_name=contact.name,
        contact_email=contact.email,
        inbox_id=inbox.id,
        webhook_url=inbox.webhook_url,
        webhook_secret=inboxes.webhook_secret_of(inbox),
    )


def _worker_actor(workspace_id: int, claimed_by: str) -> Actor:
    return Actor(
        workspace_id=workspace_id,
        user_id=None,
        kind="system",
        name=WORKER_NAME,
        via="worker",
        extra={"worker": claimed_by},
    )


def _held(session, outbox_id: int, claimed_by: str) -> Outbox | None:
    """The row, if it is still pending and claimed by this worker (and lock it on PostgreSQL,
    so a second worker that took over an expired lease waits for this transaction)."""
    return session.execute(
        select(Outbox)
        .where(
            Outbox.id == outbox_id,
            Outbox.status == "pending",
            Outbox.claimed_by == claimed_by,
        )
        .with_for_update()
    ).scalar_one_or_none()


def _conclude(outbox_id: int, claimed_by: str, status: str, error: str | None, data: dict) -> bool:
    """Mark the row and its message `status` ("sent" or "failed") with its event, in one
    transaction; False (and nothing written) when this worker no longer holds the row."""
    with write_transaction() as session:
        outbox = _held(session, outbox_id, claimed_by)
        if outbox is None:
            return False
        now = utcnow()
        outbox.status = status
        outbox.attempts += 1
        outbox.last_error = error
        if status == "sent":
            outbox.sent_at = now
        else:
            outbox.failed_at = now
        outbox.claimed_by = None
        outbox.claimed_until = None
        message = session.get(Message, outbox.message_id)
        conversation = session.get(Conversation, message.conversation_id)
        message.delivery_status = status
        events.append(
            _worker_actor(outbox.workspace_id, claimed_by),
            "message.delivered" if status == "sent" else "message.failed",
            conversation=conversation,
            data={
                "display_id": conversation.display_id,
                "message_id": message.id,
                "delivery_id": outbox.delivery_id,
                "attempts": outbox.attempts,
                **data,
            },
        )
    return True


def mark_sent(outbox_id: int, claimed_by: str, note: str | None = None) -> bool:
    """Record a delivery (`note`: what the teammate should know, e.g. there is no webhook)."""
    return _conclude(outbox_id, claimed_by, "sent", note, {"note": note} if note else {})


def mark_failed(outbox_id: int, claimed_by: str, reason: str) -> bool:
    """Record that the message will not be delivered, with the reason."""
    return _conclude(outbox_id, claimed_by, "failed", reason, {"reason": reason})


def mark_retry(outbox_id: int, claimed_by: str, reason: str, next_attempt_at: datetime) -> bool:
    """Record a transient failure and when to try again; the row stays pending, unclaimed."""
    with write_transaction() as session:
        outbox = _held(session, outbox_id, claimed_by)
        if outbox is None:
            return False
        outbox.attempts += 1
        outbox.last_error = reason
        outbox.next_attempt_at = next_attempt_at
        outbox.claimed_by = None
        outbox.claimed_until = None
    return True
