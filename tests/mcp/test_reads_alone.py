"""Read-only tools flagged reads_alone (ToolSpec) run on a connection of their own
(prebuilt.read_alone) and answer exactly what they answer on the ORM session, with the same
audit row; anything that touches the session inside read_alone is refused."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import func, select

from deskwoot.database.prebuilt import (
    SessionUsedWhileReadingAlone,
    connection_in_use,
    read_alone,
)
from deskwoot.extensions import db
from deskwoot.mcp import invocation, registry, tools  # noqa: F401  (tools: registers them)
from deskwoot.models import AuditEntry, Conversation, Message
from deskwoot.services.conversations import attachments, workflow
from tests import factories as f

ALONE = [name for name, spec in registry.REGISTRY.items() if spec.reads_alone]


@pytest.fixture
def desk(app):
    workspace = f.make_workspace(plan="enterprise")
    inbox = f.make_inbox(workspace)
    actor = f.bot_actor(workspace)
    conversations = [f.make_conversation(inbox, content=f"Order {n} is late") for n in range(4)]
    workflow.reply(actor, conversations[0].display_id, "We are on it.")
    workflow.add_note(actor, conversations[1].display_id, "Check the warehouse.")
    teammate = f.make_user(workspace, role="agent", inboxes=[inbox])
    workflow.assign(actor, conversations[2].display_id, teammate.id)
    first = db.session.scalars(
        select(Message).where(Message.conversation_id == conversations[0].id)
    ).first()
    attachments.add(db.session, first, "invoice.pdf", "application/pdf", b"%PDF-1.4 tiny")
    attachments.add(db.session, first, "huge.bin", "application/zip", b"", skipped="too large")
    for n in range(5):
        workflow.add_note(actor, conversations[3].display_id, f"Note {n}")
    db.session.commit()
    return actor, inbox, teammate.id


def _calls(inbox, teammate_id: int) -> list[tuple[str, dict]]:
    return [
        # A teammate by id is looked up through the ORM: read_alone refuses, the read runs
        # again on the session.
        ("list_conversations", {"status": "all", "assignee": teammate_id}),
        ("list_conversations", {}),
        ("list_conversations", {"status": "open", "inbox_id": inbox.id, "limit": 2}),
        ("list_conversations", {"status": "all", "assignee": "unassigned", "limit": 1}),
        ("list_conversations", {"status": "all", "label": "vip", "priority": "urgent"}),
        ("list_conversations", {"assignee": "me", "updated_since": "2020-01-01T00:00:00Z"}),
        ("poll_events", {}),
        ("poll_events", {"types": ["message.created"], "limit": 3}),
        ("get_conversation", {"conversation_id": 1}),
        ("get_conversation", {"conversation_id": 4, "messages_limit": 2}),
        ("search_conversations", {"query": "order"}),
        ("search_conversations", {"query": "late", "status": "open", "limit": 2}),
        ("search_conversations", {"query": "warehouse", "inbox_id": inbox.id}),
    ]


def _invoke(actor, name: str, args: dict, alone: bool):
    spec = dataclasses.replace(registry.REGISTRY[name], reads_alone=alone)
    done = invocation.invoke(actor, spec, dict(args), text=True)
    return done.structured


def test_the_flagged_tools_are_the_ones_measured():
    assert set(ALONE) == {
        "get_conversation",
        "list_conversations",
        "poll_events",
        "search_conversations",
    }
    assert all(registry.REGISTRY[name].read_only for name in ALONE)


def test_a_tool_answers_the_same_alone_as_on_the_session(desk):
    actor, inbox, teammate_id = desk
    for name, args in _calls(inbox, teammate_id):
        on_session = _invoke(actor, name, args, alone=False)
        alone = _invoke(actor, name, args, alone=True)
        assert json.dumps(alone, sort_keys=True) == json.dumps(on_session, sort_keys=True), name
        # Pages continue the same way too.
        cursor_name = "messages_cursor" if name == "get_conversation" else "cursor"
        cursor = alone.get("messages_next_cursor" if name == "get_conversation" else "next_cursor")
        if cursor:
            more = {**args, cursor_name: cursor}
            assert _invoke(actor, name, more, alone=True) == _invoke(actor, name, more, alone=False)


def test_the_flagged_tools_really_read_alone(desk):
    """Every call above except a teammate by id runs its handler inside read_alone without
    the session: otherwise invocation._read would quietly read twice (alone, then again on
    the session) and the comparison above would still pass."""
    actor, inbox, teammate_id = desk
    for name, args in _calls(inbox, teammate_id):
        if args.get("assignee") == teammate_id:
            continue
        spec = registry.REGISTRY[name]
        db.session.rollback()
        with read_alone():
            spec.handler(registry.ToolContext(actor=actor, tool=spec), dict(args))


def test_a_handler_that_needs_the_session_is_read_again_on_it(desk):
    actor, _, teammate_id = desk
    spec = registry.REGISTRY["list_conversations"]
    args = {"status": "all", "assignee": teammate_id}
    db.session.rollback()
    with pytest.raises(SessionUsedWhileReadingAlone), read_alone():
        spec.handler(registry.ToolContext(actor=actor, tool=spec), args)
    db.session.rollback()
    assert _invoke(actor, spec.name, args, alone=True) == _invoke(
        actor, spec.name, args, alone=False
    )


def test_a_thread_read_alone_carries_its_attachments(desk):
    actor = desk[0]
    db.session.rollback()
    thread = _invoke(actor, "get_conversation", {"conversation_id": 1}, alone=True)
    files = [a for m in thread["messages"] for a in m["attachments"]]
    assert [(a["filename"], a["skipped"]) for a in files] == [
        ("invoice.pdf", None),
        ("huge.bin", "too large"),
    ]


def test_each_call_alone_leaves_its_audit_row(desk):
    actor = desk[0]

    def rows() -> int:
        return db.session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "poll_events")
        )

    before = rows()
    db.session.rollback()
    _invoke(actor, "poll_events", {}, alone=True)
    assert rows() == before + 1
    db.session.rollback()


def test_statements_inside_run_on_its_connection_not_the_sessions(desk):
    db.session.rollback()
    with read_alone() as connection:
        assert connection_in_use() is connection
        assert not db.session().in_transaction()
    assert not db.session().in_transaction()


def test_the_session_is_refused_inside(desk):
    db.session.rollback()
    with pytest.raises(SessionUsedWhileReadingAlone), read_alone():
        db.session.execute(select(Conversation.id)).all()
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(Conversation)).scalar() == 4
