"""Requests refused at the MCP gate (MCP off, trial over, wrong plan) are audited as a count
on one row per token, reason and minute, and counting them never waits for the write queue
(services/activity/audit_recorder.py record_refusal). Through the Flask test client; the
live-server flood is in test_refusal_flood_live.py."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, select, text

from deskwoot.database.engine import is_sqlite
from deskwoot.extensions import db
from deskwoot.models import AuditEntry, Message
from deskwoot.policy import SCOPES, member_actor, system_actor
from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.services.access import tokens
from deskwoot.services.activity import audit_recorder as audit
from deskwoot.services.directory import workspaces
from tests import factories as f

HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def make_desk(name: str):
    ws = f.make_workspace(name)
    admin = member_actor(f.make_user(ws, role="admin"), ws)
    inbox = f.make_inbox(ws)
    conversation = f.make_conversation(inbox, content="Where is my parcel?")
    mcp_settings.set_enabled(admin, True)
    token = tokens.mint(admin, "Bot", list(SCOPES))
    return {"ws": ws, "admin": admin, "conversation": conversation, "token": token}


@pytest.fixture
def locked(app):
    """A workspace whose MCP server was switched off after its token was minted."""
    desk = make_desk("Locked Ltd")
    mcp_settings.set_enabled(desk["admin"], False)
    return desk


@pytest.fixture
def working(app):
    """Another workspace whose agent keeps working during the flood."""
    return make_desk("Working Inc")


def post(client, token: str, method: str = "ping", params: dict | None = None, id_: int = 1):
    body = {"jsonrpc": "2.0", "id": id_, "method": method, "params": params or {}}
    return client.post(
        "/api/mcp", data=json.dumps(body), headers={**HEADERS, "Authorization": f"Bearer {token}"}
    )


def refusal_rows(desk) -> list[tuple[str, int]]:
    """(reason, count) of the token's refusal rows, oldest first, read fresh."""
    db.session.rollback()
    return [
        (row.detail, row.count)
        for row in db.session.execute(
            select(AuditEntry.detail, AuditEntry.count)
            .where(
                AuditEntry.workspace_id == desk["ws"].id,
                AuditEntry.token_id == desk["token"].token.id,
                AuditEntry.action == "mcp.request",
                AuditEntry.outcome == "denied",
            )
            .order_by(AuditEntry.id)
        )
    ]


def note(client, desk, n: int):
    return post(
        client,
        desk["token"].plaintext,
        "tools/call",
        {
            "name": "add_private_note",
            "arguments": {"conversation_id": desk["conversation"].display_id, "body": f"n{n}"},
        },
        id_=n,
    )


def test_500_refused_requests_leave_one_row_that_counts_them(client, locked, working):
    """Was: one row per request (500 pings, 500 rows). Now the minute's row counts them,
    and the working workspace's agent writes all the while."""
    notes = 0
    for n in range(500):
        response = post(client, locked["token"].plaintext, id_=n)
        assert response.status_code == 403
        assert response.get_json()["error"]["data"] == {"reason": "mcp_disabled"}
        if n % 50 == 0:
            answer = note(client, working, n)
            assert answer.status_code == 200 and not answer.get_json()["result"]["isError"]
            notes += 1
    rows = refusal_rows(locked)
    assert len(rows) <= 2  # two only if the run crossed a minute boundary
    assert {reason for reason, _ in rows} == {"mcp_disabled"}
    assert sum(count for _, count in rows) == 500
    written = db.session.scalar(
        select(func.count())
        .select_from(Message)
        .where(Message.conversation_id == working["conversation"].id, Message.kind == "note")
    )
    assert written == notes == 10


def test_each_reason_and_each_minute_gets_its_own_row(client, locked, monkeypatch):
    for _ in range(3):
        post(client, locked["token"].plaintext)
    system = system_actor(locked["ws"])
    workspaces.set_plan(system, "starter")
    for _ in range(2):
        post(client, locked["token"].plaintext)
    later = f.utcnow() + timedelta(minutes=1)
    monkeypatch.setattr(audit, "utcnow", lambda: later)
    post(client, locked["token"].plaintext)
    assert refusal_rows(locked) == [("mcp_disabled", 3), ("plan_required", 2), ("plan_required", 1)]


def test_other_audit_rows_are_one_each(client, working):
    """Only gate refusals are counted; a tool call is still one row with count 1."""
    for n in range(3):
        note(client, working, n)
    db.session.rollback()
    counts = db.session.execute(
        select(AuditEntry.count).where(AuditEntry.action == "add_private_note")
    ).scalars()
    assert list(counts) == [1, 1, 1]


def test_a_refusal_never_waits_for_the_write_queue(app, client, locked):
    """While another writer holds the queue the refusal is answered at once and counted in
    memory; the token's next refusal that finds the queue free writes the total."""
    if not is_sqlite():
        pytest.skip("the write queue is SQLite's; see the PostgreSQL row-lock test")
    post(client, locked["token"].plaintext)
    assert refusal_rows(locked) == [("mcp_disabled", 1)]
    holder = os.open(app.extensions["deskwoot_writer_queue"].path, os.O_RDWR)
    answers: list[int] = []

    def refuse_twice():
        with app.app_context():
            answers.extend(post(client, locked["token"].plaintext).status_code for _ in "ab")
            db.session.remove()

    try:
        fcntl.flock(holder, fcntl.LOCK_EX)  # another process's write in progress
        thread = threading.Thread(target=refuse_twice)
        thread.start()
        thread.join(10)
        assert not thread.is_alive(), "a refusal waited for the write queue"
        assert answers == [403, 403]
    finally:
        fcntl.flock(holder, fcntl.LOCK_UN)
        os.close(holder)
    assert refusal_rows(locked) == [("mcp_disabled", 1)]  # the two are pending in memory
    post(client, locked["token"].plaintext)
    assert refusal_rows(locked) == [("mcp_disabled", 4)]


def test_a_refusal_never_waits_for_a_locked_row_on_postgresql(app, client, locked):
    """PostgreSQL has no write queue; a refusal meeting the minute's row locked by another
    transaction skips it (SKIP LOCKED) and keeps the count for the next refusal."""
    if is_sqlite():
        pytest.skip("PostgreSQL only")
    post(client, locked["token"].plaintext)
    [entry_id] = db.session.execute(
        select(AuditEntry.id).where(AuditEntry.action == "mcp.request")
    ).scalars()
    db.session.rollback()
    other = create_engine(db.engine.url)
    answers: list[int] = []
    try:
        with other.begin() as connection:
            connection.execute(
                text("SELECT id FROM audit_entries WHERE id = :id FOR UPDATE"), {"id": entry_id}
            )

            def refuse():
                with app.app_context():
                    answers.append(post(client, locked["token"].plaintext).status_code)
                    db.session.remove()

            thread = threading.Thread(target=refuse)
            thread.start()
            thread.join(10)
            assert not thread.is_alive(), "a refusal waited for a row lock"
    finally:
        other.dispose()
    assert answers == [403]
    assert refusal_rows(locked) == [("mcp_disabled", 1)]
    post(client, locked["token"].plaintext)
    assert refusal_rows(locked) == [("mcp_disabled", 3)]
