"""Prebuilt statements (deskwoot/database/prebuilt.py) behave exactly like SQLAlchemy's own path:
the same rows and types, the same transaction, the same exceptions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, event, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, InvalidRequestError

from deskwoot.database.prebuilt import Prebuilt, write_alone
from deskwoot.extensions import db
from deskwoot.models import AuditEntry, Conversation, Label
from tests import factories
from tests.database.helpers import read_only_connections

CONVERSATIONS = Prebuilt(
    select(
        Conversation.id,
        Conversation.display_id,
        Conversation.custom_attributes,
        Conversation.last_activity_at,
        Conversation.handoff,
    )
    .where(Conversation.id.in_(bindparam("ids", expanding=True)))
    .order_by(Conversation.id)
)
NEW_LABEL = Prebuilt(
    insert(Label).values(
        workspace_id=bindparam("workspace_id"), name=bindparam("name"), color="#000000"
    )
)
LABEL_NAMES = Prebuilt(
    select(Label.name).where(Label.workspace_id == bindparam("workspace_id")).order_by(Label.id)
)


def _through_sqlalchemy(prebuilt: Prebuilt, params: dict) -> list:
    """The same statement on SQLAlchemy's ordinary path (taken while anything listens)."""

    def listener(*_args):
        pass

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        return prebuilt.rows(params)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


@pytest.fixture
def desk(app):
    workspace = factories.make_workspace()
    inbox = factories.make_inbox(workspace)
    conversations = [factories.make_conversation(inbox) for _ in range(3)]
    conversations[1].custom_attributes = {"plan": "gold", "seats": 12}
    conversations[2].handoff = True
    db.session.commit()
    return workspace, [c.id for c in conversations]


def test_rows_types_and_expanding_lists_match_sqlalchemy(desk):
    _, ids = desk
    fast = CONVERSATIONS.rows({"ids": ids})
    slow = _through_sqlalchemy(CONVERSATIONS, {"ids": ids})
    assert [tuple(row) for row in fast] == [tuple(row) for row in slow]
    assert fast[1].custom_attributes == {"plan": "gold", "seats": 12}  # JSON decoded
    assert fast[2].handoff is True  # a bool, not SQLite's 1
    assert fast[0].last_activity_at.tzinfo is not None  # UTCDateTime's aware datetime
    assert isinstance(fast[0].last_activity_at, datetime)
    # Two ids, then one: the IN list is rendered per call, not once.
    assert [row.id for row in CONVERSATIONS.rows({"ids": ids[:2]})] == ids[:2]
    assert [row.id for row in CONVERSATIONS.rows({"ids": ids[2:]})] == ids[2:]


def test_an_empty_in_list_matches_nothing(desk):
    assert CONVERSATIONS.rows({"ids": []}) == []


def test_runs_in_the_sessions_transaction(desk):
    workspace, _ = desk
    NEW_LABEL.run({"workspace_id": workspace.id, "name": "urgent"})
    # The ORM sees the row in the same transaction, and a rollback takes it back.
    assert db.session.scalars(select(Label.name)).all() == ["urgent"]
    db.session.rollback()
    assert LABEL_NAMES.rows({"workspace_id": workspace.id}) == []
    NEW_LABEL.run({"workspace_id": workspace.id, "name": "vip"})
    db.session.commit()
    assert [row.name for row in LABEL_NAMES.rows({"workspace_id": workspace.id})] == ["vip"]


def test_driver_errors_surface_as_sqlalchemy_errors(desk):
    workspace, _ = desk
    NEW_LABEL.run({"workspace_id": workspace.id, "name": "billing"})
    with pytest.raises(IntegrityError) as caught:
        NEW_LABEL.run({"workspace_id": workspace.id, "name": "billing"})  # unique per workspace
    assert caught.value.orig is not None
    db.session.rollback()


def test_bind_processors_apply(desk):
    """A timezone-aware datetime goes through UTCDateTime like any ORM write."""
    workspace, _ = desk
    audit = Prebuilt(
        insert(AuditEntry).values(
            workspace_id=bindparam("workspace_id"),
            actor_type="system",
            action="test",
            outcome="ok",
            created_at=bindparam("created_at"),
        )
    )
    at = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
    audit.run({"workspace_id": workspace.id, "created_at": at})
    stored = db.session.scalars(
        select(AuditEntry.created_at).where(AuditEntry.action == "test")
    ).one()
    assert stored == at
    with pytest.raises(ValueError, match="naive"):
        audit.run({"workspace_id": workspace.id, "created_at": at.replace(tzinfo=None)})
    db.session.rollback()


def test_first_alone_reads_outside_the_session(desk):
    _, ids = desk
    db.session.rollback()
    row = CONVERSATIONS.first_alone({"ids": ids[1:2]})
    assert row.id == ids[1] and row.custom_attributes == {"plan": "gold", "seats": 12}
    assert not db.session().in_transaction()  # the request's transaction was not opened
    assert CONVERSATIONS.first_alone({"ids": [0]}) is None
    assert tuple(_through_sqlalchemy(CONVERSATIONS, {"ids": ids[1:2]})[0]) == tuple(row)


def test_a_missing_parameter_is_refused_not_sent_as_null(desk):
    with pytest.raises(InvalidRequestError, match=r"value is required .* 'workspace_id'"):
        LABEL_NAMES.rows({})


def test_a_connection_that_found_the_database_read_only_is_not_reused(desk):
    """The raw cursor path discards such a connection as SQLAlchemy's own path does (the
    engine's handle_error hook), so the next write gets a fresh one and works."""
    workspace_id = desk[0].id
    engine = db.engine
    # Every column given, so no Python-side default sends it down SQLAlchemy's own path.
    new_label = Prebuilt(
        insert(Label).values(
            workspace_id=bindparam("workspace_id"),
            name=bindparam("name"),
            color="#000000",
            created_at=bindparam("created_at"),
        )
    )
    row = {"workspace_id": workspace_id, "name": "vip", "created_at": datetime.now(UTC)}
    assert new_label._plan(engine.dialect).usable

    with read_only_connections():
        with pytest.raises(DBAPIError) as refused:
            new_label.run(row)
        assert refused.value.connection_invalidated
        db.session.rollback()
    new_label.run(row)
    db.session.commit()
    assert LABEL_NAMES.rows({"workspace_id": workspace_id}) == [("vip",)]


ACTIVE_AT = Prebuilt(
    select(Conversation.id)
    .where(Conversation.last_activity_at.in_(bindparam("ats", expanding=True)))
    .order_by(Conversation.id)
)


def test_each_item_of_an_in_list_goes_through_its_type_at_any_length(desk):
    """The expansion is SQLAlchemy's, kept per list length; every item is still processed
    (UTCDateTime turns an aware datetime into the stored form)."""
    _, ids = desk
    ats = db.session.scalars(
        select(Conversation.last_activity_at).where(Conversation.id.in_(ids))
    ).all()
    for wanted in (ats, ats[:1], ats[:2], ats):
        fast = [row.id for row in ACTIVE_AT.rows({"ats": wanted})]
        assert fast == [row.id for row in _through_sqlalchemy(ACTIVE_AT, {"ats": wanted})]
        assert len(fast) >= len(wanted)


# Every column given, so no Python-side default sends it down SQLAlchemy's own path.
NEW_LABEL_AT = Prebuilt(
    insert(Label).values(
        workspace_id=bindparam("workspace_id"),
        name=bindparam("name"),
        color="#000000",
        created_at=bindparam("created_at"),
    )
)


def _labels_written_alone(workspace_id: int, names: list[str], observed: bool) -> None:
    now = datetime.now(UTC)
    statements = [
        (NEW_LABEL_AT, {"workspace_id": workspace_id, "name": name, "created_at": now})
        for name in names
    ]
    assert NEW_LABEL_AT._plan(db.engine.dialect).usable
    if not observed:
        write_alone(statements)
        return

    def listener(*_args):
        pass

    event.listen(db.engine, "before_cursor_execute", listener)  # → SQLAlchemy's own path
    try:
        write_alone(statements)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


@pytest.mark.parametrize("observed", [False, True], ids=["replayed", "sqlalchemy"])
def test_write_alone_commits_its_statements_outside_the_session(desk, observed):
    """Both paths write the same rows, committed, without opening the session's transaction."""
    workspace_id = desk[0].id
    db.session.rollback()
    _labels_written_alone(workspace_id, ["a", "b"], observed)
    assert not db.session().in_transaction()
    assert [row.name for row in LABEL_NAMES.rows({"workspace_id": workspace_id})] == ["a", "b"]
    db.session.rollback()


@pytest.mark.parametrize("observed", [False, True], ids=["replayed", "sqlalchemy"])
def test_write_alone_is_one_transaction(desk, observed):
    """A statement that fails takes the ones before it back, and the error is SQLAlchemy's."""
    workspace_id = desk[0].id
    db.session.rollback()
    with pytest.raises(IntegrityError):
        _labels_written_alone(workspace_id, ["c", "c"], observed)  # unique per workspace
    assert LABEL_NAMES.rows({"workspace_id": workspace_id}) == []
    db.session.rollback()
    _labels_written_alone(workspace_id, ["c"], observed)  # the connection is fine afterwards
    assert LABEL_NAMES.rows({"workspace_id": workspace_id}) == [("c",)]
    db.session.rollback()
