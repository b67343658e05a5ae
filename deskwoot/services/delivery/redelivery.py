"""Trying a failed delivery again: a teammate's Retry on an outgoing message (ARCHITECTURE §12).

The worker gives a message up after a permanent failure or its attempt limit; once the
cause is fixed (the webhook is back, the mailbox exists), a teammate who can see the
conversation puts it back in the queue. The row gets the same delivery id, so a receiver
that did get an earlier attempt recognises the copy. Its attempt count starts over, or the
worker's limit would fail it again at once; the count it had is kept in the audit row.

No event: the feed already said `message.failed`, and says `message.delivered` or
`message.failed` again when the worker is done with the new attempts.
"""

from __future__ import annotations

from sqlalchemy import select

from deskwoot import policy
from deskwoot.database.transactions import write_transaction
from deskwoot.errors import Conflict, NotFound
from deskwoot.models import Conversation, Message, Outbox
from deskwoot.policy import Actor
from deskwoot.services.activity import audit_recorder as audit


def retry(actor: Actor, message_id: int) -> Message:
    """Put a failed outgoing message back in the outbox, due now. NotFound for a message out
    of the actor's reach (or not outgoing); Conflict unless its delivery failed."""
    policy.require_scope(actor, "conversations:reply")
    with write_transaction() as session:
        found = session.execute(
            select(Message, Outbox)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .join(Outbox, Outbox.message_id == Message.id)
            .where(
                Message.id == message_id,
                Message.kind == "outgoing",
                policy.conversation_filter(actor),
            )
            .with_for_update(of=Outbox)
        ).first()
        if found is None:
            raise NotFound(f"Message {message_id} was not found.")
        message, outbox = found
        if outbox.status != "failed":
            state = "is still being sent" if outbox.status == "pending" else "was delivered"
            raise Conflict(
                f"Message {message_id} {state}: only a message that was not delivered can be "
                "retried.",
                reason="not_failed",
            )
        previous = f"after {outbox.attempts} attempt(s): {outbox.last_error or 'no reason'}"
        outbox.status = "pending"
        outbox.attempts = 0
        outbox.next_attempt_at = None
        outbox.failed_at = None
        outbox.claimed_by = None
        outbox.claimed_until = None
        message.delivery_status = "pending"
        audit.record(
            actor,
            "message.redelivery_requested",
            target=f"message {message.id}",
            detail=f"failed {previous}"[:500],
        )
    return message
