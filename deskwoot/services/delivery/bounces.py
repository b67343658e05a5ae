"""Bounces: a remote server's report (RFC 3464) that one of our emails could not be delivered.

The SMTP server took the message (the worker marked it sent), and only later did the
recipient's server refuse it. The adapter (channels/email/inbound.py) reads which of our
Message-IDs bounced; here its message and outbox row are marked failed with the server's words
and `message.failed` is emitted with the same data the worker's failures carry
(services/delivery/outbox.py), so teammates and agents see it where they see every other
failed delivery. The bounce itself is no customer message and is not stored.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from deskwoot.database.transactions import retry_transient, write_transaction
from deskwoot.models import Conversation, Inbox, Message, Outbox, utcnow
from deskwoot.services.activity import event_recorder as events
from deskwoot.services.conversations.inbound import inbox_actor


@dataclass(frozen=True)
class BounceRecorded:
    display_id: int
    message_id: int
    already_failed: bool  # a second copy of the bounce, or the worker had given up already


def record_bounce(inbox: Inbox, message_id: int, reason: str) -> BounceRecorded | None:
    """Mark our outgoing message `message_id` of this inbox failed because it bounced; None
    when the inbox sent no such message (the id was forged, or the message was deleted)."""
    return retry_transient(lambda: _record(inbox, message_id, reason[:2000]))


def _record(inbox: Inbox, message_id: int, reason: str) -> BounceRecorded | None:
    with write_transaction() as session:
        message = session.execute(
            select(Message).where(
                Message.id == message_id,
                Message.inbox_id == inbox.id,
                Message.kind == "outgoing",
            )
        ).scalar_one_or_none()
        if message is None:
            return None
        conversation = session.get(Conversation, message.conversation_id)
        if message.delivery_status == "failed":
            return BounceRecorded(conversation.display_id, message.id, already_failed=True)
        # Locked (PostgreSQL), so a worker still holding a claim on the row cannot record
        # "sent" over this; once failed, its conclusion finds the row no longer pending.
        outbox = session.execute(
            select(Outbox).where(Outbox.message_id == message.id).with_for_update()
        ).scalar_one_or_none()
        message.delivery_status = "failed"
        data = {"display_id": conversation.display_id, "message_id": message.id}
        if outbox is not None:
            outbox.status = "failed"
            outbox.last_error = reason
            outbox.failed_at = utcnow()
            outbox.claimed_by = None
            outbox.claimed_until = None
            data.update(delivery_id=outbox.delivery_id, attempts=outbox.attempts)
        events.append(
            inbox_actor(inbox, via="email"),
            "message.failed",
            conversation=conversation,
            data={**data, "reason": reason, "bounce": True},
        )
        return BounceRecorded(conversation.display_id, message.id, already_failed=False)
