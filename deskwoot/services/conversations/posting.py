"""A reply or a private note on an existing conversation, written as a few Core statements.

This is the agent's hot write (reply_to_conversation, add_private_note) and the web's reply
and note forms: workflow.reply and workflow.add_note call `post`, the one way in. Through the
ORM the same write cost more Python than SQL: a flush for the message (to learn its id), a
lazy load of the inbox (for the outbox row's channel), then the event, the outbox row and
the conversation's update in the unit of work at commit. Here the same rows are written with
prebuilt statements (database/prebuilt.py) on the session's own connection and transaction,
in this order:

1. the conversation in the actor's reach (policy.CONVERSATION_REACH) with its inbox's channel;
2. the workspace's feed lock (PostgreSQL), before any row lock, as every writer takes it
   (event_recorder.lock_feed);
3. the message, INSERT … RETURNING id (its trigger appends the text to the conversation's
   search document, migration 0003);
4. the outbox row, for a reply (the delivery worker sends it; the request never waits);
5. the events: message.created, and conversation.updated when a teammate's reply hands the
   conversation to the humans;
6. the conversation's last_activity_at (not for a note), updated_at and handoff.

steps.add_message is the ORM twin for the actions that already hold the Conversation entity
(a new conversation, an escalation, an approved draft, inbound mail);
tests/services/test_posting.py proves both write the same rows on both databases.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from deskwoot import policy
from deskwoot.database.prebuilt import Prebuilt
from deskwoot.errors import Conflict, NotFound
from deskwoot.extensions import db
from deskwoot.models import Conversation, Event, Inbox, Message, Outbox, utcnow
from deskwoot.policy import Actor
from deskwoot.services.activity import event_recorder as events

# The conversation a message goes to, per reach variant: what the write needs and no more.
_TARGET = {
    variant: Prebuilt(
        select(
            Conversation.id,
            Conversation.workspace_id,
            Conversation.display_id,
            Conversation.inbox_id,
            Conversation.contact_id,
            Conversation.handoff,
            Inbox.channel,
        )
        .join(Inbox, Inbox.id == Conversation.inbox_id)
        .where(reach, Conversation.display_id == bindparam("display_id"))
    )
    for variant, reach in policy.CONVERSATION_REACH.items()
}

# Every column a Python-side default would fill is given here, so each statement is replayed
# as compiled (Prebuilt steps aside for statements that need SQLAlchemy to compute a default).
_MESSAGE_COLUMNS = (
    "workspace_id",
    "conversation_id",
    "inbox_id",
    "kind",
    "sender_type",
    "sender_user_id",
    "token_id",
    "body",
    "delivery_status",
    "created_at",
)
_INSERT_MESSAGE = Prebuilt(
    insert(Message)
    .values({name: bindparam(name) for name in _MESSAGE_COLUMNS})
    .returning(Message.id)
)
_INSERT_OUTBOX = Prebuilt(
    insert(Outbox).values(
        {
            name: bindparam(name)
            for name in (
                "workspace_id",
                "message_id",
                "channel",
                "status",
                "attempts",
                "delivery_id",
                "created_at",
            )
        }
    )
)
_EVENT_COLUMNS = (
    "workspace_id",
    "inbox_id",
    "type",
    "conversation_id",
    "contact_id",
    "actor_type",
    "actor_id",
    "actor_name",
    "token_id",
    "data",
    "created_at",
)
_INSERT_EVENT = Prebuilt(insert(Event).values({name: bindparam(name) for name in _EVENT_COLUMNS}))


def _touch(*columns: str) -> Prebuilt:
    # Bind names unlike the columns': SQLAlchemy reserves those in an UPDATE's WHERE. Run it
    # with exactly these columns' values: on SQLAlchemy's own path (Prebuilt's fallback) a
    # parameter named after another column would be added to the SET clause.
    return Prebuilt(
        update(Conversation)
        .where(Conversation.id == bindparam("target_id"))
        .values({name: bindparam(name) for name in columns})
    )


# The conversation's update, by what the message changes: a note is not activity (the
# customer sees nothing), a teammate's reply also hands the conversation to the humans.
_TOUCH = {
    (False, False): _touch("updated_at"),
    (True, False): _touch("last_activity_at", "updated_at"),
    (True, True): _touch("last_activity_at", "updated_at", "handoff"),
}


@dataclass(frozen=True)
class _Target:
    """The conversation a message is posted to (a row of _TARGET)."""

    id: int
    workspace_id: int
    display_id: int
    inbox_id: int
    contact_id: int | None
    handoff: bool
    channel: str


def target(actor: Actor, display_id: int) -> _Target:
    """The conversation `display_id` in the actor's reach; NotFound otherwise (the same
    answer as policy.get_conversation)."""
    variant, params = policy.conversation_reach(actor)
    row = _TARGET[variant].first({**params, "display_id": display_id})
    if row is None:
        raise NotFound(f"Conversation {display_id} was not found.")
    return _Target(*row)


def post(actor: Actor, display_id: int, kind: str, body: str) -> Message:
    """Write the actor's own reply ("outgoing") or private note ("note"); call inside a
    write transaction. A bot may not reply while a human has the conversation (ARCHITECTURE
    §6); a teammate's reply hands the conversation to the humans. Returns the message as a
    persistent entity whose columns are loaded (no SELECT)."""
    conversation = target(actor, display_id)
    reply = kind == "outgoing"
    if reply and actor.is_bot and conversation.handoff:
        raise Conflict(
            "A human teammate has taken over this conversation, so bot replies are "
            "paused. Add a private note or create a draft instead.",
            reason="handoff",
        )
    hands_over = reply and actor.kind == "human" and not conversation.handoff
    now = utcnow()
    events.lock_feed(actor.workspace_id)
    values = {
        "workspace_id": conversation.workspace_id,
        "conversation_id": conversation.id,
        "inbox_id": conversation.inbox_id,
        "kind": kind,
        "sender_type": actor.sender_type,
        "sender_user_id": actor.user_id,
        "token_id": actor.token_id,
        "body": body,
        "delivery_status": "pending" if reply else None,
        "created_at": now,
    }
    message_id = _INSERT_MESSAGE.first(values).id
    if reply:
        _INSERT_OUTBOX.run(
            {
                "workspace_id": conversation.workspace_id,
                "message_id": message_id,
                "channel": conversation.channel,
                "status": "pending",
                "attempts": 0,
                # The message's identity on the wire, the same on every delivery attempt.
                "delivery_id": f"msg_{message_id}",
                "created_at": now,
            }
        )
    event = {
        "workspace_id": actor.workspace_id,
        "inbox_id": conversation.inbox_id,
        "conversation_id": conversation.id,
        "contact_id": conversation.contact_id,
        "actor_type": actor.sender_type,
        "actor_id": actor.user_id,
        "actor_name": actor.name,
        "token_id": actor.token_id,
        "created_at": now,
    }
    _INSERT_EVENT.run(
        {
            **event,
            "type": "message.created",
            "data": {
                "display_id": conversation.display_id,
                "message_id": message_id,
                "kind": kind,
                "sender_type": actor.sender_type,
            },
        }
    )
    if hands_over:
        _INSERT_EVENT.run(
            {
                **event,
                "type": "conversation.updated",
                "data": {
                    "display_id": conversation.display_id,
                    "changes": {"handoff": [False, True]},
                },
            }
        )
    touch = {"target_id": conversation.id, "updated_at": now}
    if reply:
        touch["last_activity_at"] = now
    if hands_over:
        touch["handoff"] = True
    _TOUCH[reply, hands_over].run(touch)
    _expire_loaded(conversation.id, touch)
    return _entity(message_id, values)


def _expire_loaded(conversation_id: int, written: dict) -> None:
    """A caller that holds the conversation as an entity in this transaction (a write
    joining an outer one: the demo's seeding) sees the columns just written, as it did when
    the ORM wrote them; nothing to do when the session never loaded it (the agent's path)."""
    loaded = db.session.identity_map.get(identity_key(Conversation, conversation_id))
    if loaded is not None:
        db.session.expire(loaded, [name for name in written if name != "target_id"])


def _entity(message_id: int, values: dict) -> Message:
    """The message just inserted as a persistent entity of the session, without reading it
    back: callers attach files to it (steps.attach_uploads) or read its columns."""
    message = Message(id=message_id, **values)
    for name in ("sender_contact_id", "approved_by_id", "source_id", "full_body", "mail"):
        setattr(message, name, None)
    make_transient_to_detached(message)
    db.session.add(message)
    return message
