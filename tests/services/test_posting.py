"""posting.post (a reply or note as Core statements) writes exactly the rows the ORM steps
(steps.add_message + record_change, the way every other action posts) write: the message,
its outbox row, the events, the conversation's fields and the search document — on
Prebuilt's cursor path and on SQLAlchemy's own path (taken while anything listens)."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select, text

from deskwoot import policy
from deskwoot.database.transactions import write_transaction
from deskwoot.errors import Conflict, NotFound
from deskwoot.extensions import db
from deskwoot.models import Conversation, Event, Message, Outbox
from deskwoot.services.conversations import steps
from deskwoot.services.conversations import workflow as svc
from tests import factories as f

MESSAGE_IGNORED = {"id", "conversation_id", "created_at"}
OUTBOX_IGNORED = {"id", "message_id", "delivery_id", "created_at"}
EVENT_IGNORED = {"id", "conversation_id", "contact_id", "created_at", "data"}


def _columns(row, ignored: set) -> dict:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key not in ignored}


def _orm_post(actor, display_id: int, kind: str, body: str) -> int:
    """The same action through the ORM steps, as workflow.reply/add_note wrote it before."""
    with write_transaction():
        conversation = policy.get_conversation(actor, display_id)
        if kind == "outgoing" and actor.is_bot and conversation.handoff:
            raise Conflict("handoff", reason="handoff")
        message = steps.add_message(
            actor, conversation, kind, body, sender_type=actor.sender_type, event_actor=actor
        )
        if kind == "outgoing" and actor.kind == "human" and not conversation.handoff:
            conversation.handoff = True
            steps.record_change(conversation, actor, {"handoff": [False, True]})
        return message.id


def _fast_post(actor, display_id: int, kind: str, body: str) -> int:
    post = svc.reply if kind == "outgoing" else svc.add_note
    return post(actor, display_id, body).id


def _search_document(conversation_id: int):
    """The stored search document's key, the document checked against a rebuild from
    scratch (migration 0003's own definition) and the FTS index against its documents."""
    if db.engine.dialect.name == "sqlite":
        stored = db.session.execute(
            text("SELECT key, head, body FROM conversation_search WHERE conversation_id = :c"),
            {"c": conversation_id},
        ).one()
        rebuilt = db.session.execute(
            text(
                "SELECT h.head, (SELECT coalesce(group_concat(body, char(10)), '') FROM "
                "(SELECT body FROM messages WHERE conversation_id = :c ORDER BY id)) "
                "FROM conversation_search_heads h WHERE h.conversation_id = :c"
            ),
            {"c": conversation_id},
        ).one()
        assert (stored.head, stored.body) == tuple(rebuilt)
        db.session.execute(
            text(
                "INSERT INTO conversation_search_fts (conversation_search_fts) "
                "VALUES ('integrity-check')"
            )
        )
        key = stored.key
    else:
        key, same = db.session.execute(
            text(
                "SELECT key, document = conversation_search_document(conversation_id) "
                "FROM conversation_search WHERE conversation_id = :c"
            ),
            {"c": conversation_id},
        ).one()
        assert same
    return key


def _newest_key() -> int:
    return db.session.execute(text("SELECT max(key) FROM conversation_search")).scalar()


def _snapshot(conversation_id: int, message_id: int, events_after: int, key_before: int) -> dict:
    message = db.session.get(Message, message_id)
    conversation = db.session.get(Conversation, conversation_id)
    outbox = db.session.execute(select(Outbox).where(Outbox.message_id == message_id)).scalars()
    outbox = [(_columns(row, OUTBOX_IGNORED), row.delivery_id) for row in outbox]
    events = db.session.execute(
        select(Event).where(Event.id > events_after).order_by(Event.id)
    ).scalars()
    return {
        "message": _columns(message, MESSAGE_IGNORED),
        "message_created": message.created_at is not None,
        "outbox": [(row, delivery_id == f"msg_{message_id}") for row, delivery_id in outbox],
        "events": [
            (
                _columns(e, EVENT_IGNORED),
                (e.conversation_id, e.contact_id) == (conversation_id, conversation.contact_id),
                # Ids are the twin's own: compare what they point at.
                {
                    **e.data,
                    "display_id": e.data["display_id"] == conversation.display_id,
                    **(
                        {"message_id": e.data["message_id"] == message_id}
                        if "message_id" in e.data
                        else {}
                    ),
                },
                e.created_at >= message.created_at,
            )
            for e in events
        ],
        "conversation": {
            **_columns(
                conversation,
                {"id", "display_id", "contact_id", "last_activity_at", "created_at", "updated_at"},
            ),
            "activity_is_message": conversation.last_activity_at == message.created_at,
            "updated_since": conversation.updated_at >= message.created_at,
        },
        # Moved to the top by activity (a reply), or left where it was (a note).
        "search_key": _moved(key_before, _search_document(conversation_id)),
    }


def _moved(before: int, after: int) -> str:
    if after == before:
        return "stayed"
    return "newest" if after == _newest_key() else "moved elsewhere"


@pytest.fixture
def twins(app):
    """Two conversations alike in everything that the write reads or copies."""
    ws = f.make_workspace()
    admin = f.make_user(ws, role="admin", name="Ada Admin")
    inbox = f.make_inbox(ws, name="Support")
    pair = [
        f.make_conversation(inbox, f.make_contact(ws, name="Jo"), "My order is late")
        for _ in range(2)
    ]
    return ws, f.actor_for(admin, ws), f.bot_actor(ws, token_id=None), pair


@pytest.fixture(params=["cursor", "sqlalchemy"])
def path(request, app):
    """Prebuilt's cursor path, or SQLAlchemy's (it steps aside while anything listens)."""
    if request.param == "sqlalchemy":

        def listen(*_):
            pass

        event.listen(db.engine, "before_cursor_execute", listen)
        yield request.param
        event.remove(db.engine, "before_cursor_execute", listen)
    else:
        yield request.param


STEPS = [
    ("bot", "outgoing", "Thanks, we are on it."),
    ("bot", "note", "Customer sounds upset"),
    ("human", "note", "Checked the warehouse"),
    ("human", "outgoing", "Your parcel left today."),  # hands the conversation over
    ("human", "outgoing", "Tracking number follows."),  # already handed over
    ("bot", "note", "Human has it now"),
]


def test_post_writes_the_rows_the_orm_steps_write(twins, path):
    _, human, bot, (fast, orm) = twins
    actors = {"human": human, "bot": bot}
    for who, kind, body in STEPS:
        snapshots = []
        for conversation, post in ((fast, _fast_post), (orm, _orm_post)):
            events_after = db.session.execute(select(func.max(Event.id))).scalar()
            key_before = _search_document(conversation.id)
            db.session.commit()
            message_id = post(actors[who], conversation.display_id, kind, body)
            db.session.commit()
            snapshots.append(_snapshot(conversation.id, message_id, events_after, key_before))
            db.session.commit()
        assert snapshots[0] == snapshots[1], (who, kind)
    # The bot is refused alike once a human has the conversation, and nothing is written.
    before = db.session.execute(select(func.count()).select_from(Message)).scalar()
    for conversation, post in ((fast, _fast_post), (orm, _orm_post)):
        with pytest.raises(Conflict):
            post(bot, conversation.display_id, "outgoing", "Bot again")
    assert db.session.execute(select(func.count()).select_from(Message)).scalar() == before


def test_post_keeps_the_reach_and_the_returned_entity(twins, path):
    ws, human, _, (conversation, _) = twins
    other = f.make_inbox(ws)
    restricted = f.bot_actor(ws, inbox_ids=[other.id])
    with pytest.raises(NotFound):
        svc.reply(restricted, conversation.display_id, "Not yours")
    with pytest.raises(NotFound):
        svc.add_note(human, 999_999, "No such conversation")
    message = svc.reply(human, conversation.display_id, "  Trimmed and stored  ")
    assert (message.body, message.kind, message.sender_type) == (
        "Trimmed and stored",
        "outgoing",
        "user",
    )
    assert message.sender_user.name == "Ada Admin"  # a session entity: relationships load
    assert message.delivery_status == "pending"


def test_an_entity_loaded_in_the_same_transaction_sees_the_write(twins):
    _, human, _, (conversation, _) = twins
    with write_transaction():  # an outer transaction the reply joins (the demo's seeding)
        loaded = policy.get_conversation(human, conversation.display_id)
        assert loaded.handoff is False
        message = svc.reply(human, conversation.display_id, "Taking this one")
        assert loaded.handoff is True
        assert loaded.last_activity_at == message.created_at
