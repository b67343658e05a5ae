"""A database that cannot be written for a while (read-only file, full disk, PostgreSQL
read-only or restarting) answers a clear 503 with Retry-After, never a 500, and the app
recovers on its own: the connections that saw it are discarded, not handed out again.

Through the Flask test client; tests/database/test_unavailable_live.py does the same against a
multi-worker gunicorn with the database file itself made read-only.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from deskwoot.database.availability import RETRY_AFTER_SECONDS, DatabaseUnavailable, is_unavailable
from deskwoot.database.engine import is_sqlite
from deskwoot.extensions import db
from deskwoot.mcp.jsonrpc import DATABASE_UNAVAILABLE
from deskwoot.models import Label, Message
from deskwoot.policy import SCOPES, member_actor
from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.services.access import tokens
from tests import factories as f
from tests.conftest import PG_URL
from tests.database.helpers import read_only_connections

SECRET = "dw_in_unavailable-test"


@pytest.fixture
def desk(app):
    ws = f.make_workspace()
    admin = f.make_user(ws, role="admin")
    inbox = f.make_inbox(ws, secret=SECRET)
    actor = member_actor(admin, ws)
    mcp_settings.set_enabled(actor, True)
    token = tokens.mint(actor, "Bot", list(SCOPES)).plaintext
    return {"ws": ws, "admin": admin, "inbox": inbox, "token": token}


def post_hook(client, uid: str, content: str = "Hello?"):
    return client.post(
        f"/hooks/inbound/{uid}",
        data=json.dumps({"contact": {"email": "jane@example.com"}, "content": content}),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"},
    )


def mcp_call(client, token: str, tool: str = "list_conversations"):
    body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": tool}}
    return client.post(
        "/api/mcp",
        data=json.dumps(body),
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": f"Bearer {token}",
        },
    )


def label_count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Label))


def message_count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Message))


def test_a_browser_write_is_a_503_page_while_reads_still_work(client, auth, desk):
    assert auth.login(desk["admin"].email).status_code == 302
    labels = f"/w/{desk['ws'].slug}/settings/labels"
    with read_only_connections():
        assert client.get(labels).status_code == 200  # reading needs no writable database
        refused = client.post(labels, data={"name": "billing", "color": "#1f6feb"})
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
        assert refused.mimetype == "text/html"
        page = refused.get_data(as_text=True)
        assert "503" in page and "can’t save changes right now" in page
        assert 'class="empty-state error-page"' in page  # the look of the 404 and 500 pages
    assert label_count() == 0
    added = client.post(labels, data={"name": "billing", "color": "#1f6feb"})
    assert added.status_code == 302
    assert label_count() == 1


def test_the_inbound_hook_answers_json_503_then_accepts_again(client, desk):
    uid = desk["inbox"].uid
    with read_only_connections():
        refused = post_hook(client, uid)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
        error = refused.get_json()["error"]
        assert error["code"] == "database_unavailable"
        assert error["retry_after"] == RETRY_AFTER_SECONDS
        assert "Retry" in error["message"]
    assert message_count() == 0
    assert post_hook(client, uid).status_code == 201
    assert message_count() == 1


def test_mcp_answers_a_json_rpc_error_with_a_reason_then_works_again(client, desk):
    with read_only_connections():
        refused = mcp_call(client, desk["token"])  # even a read: every call is audited
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
        body = refused.get_json()
        assert body["jsonrpc"] == "2.0"
        assert body["error"]["code"] == DATABASE_UNAVAILABLE
        assert body["error"]["data"] == {
            "reason": "database_unavailable",
            "retry_after": RETRY_AFTER_SECONDS,
        }
    answer = mcp_call(client, desk["token"])
    assert answer.status_code == 200
    assert "error" not in answer.get_json()


def test_a_full_disk_is_a_503_too(client, desk, monkeypatch):
    """SQLITE_FULL / disk_full and I/O errors are the same story as a read-only file."""
    if is_sqlite():
        import sqlite3

        driver_error = sqlite3.OperationalError("database or disk is full")
        driver_error.sqlite_errorcode = 13  # SQLITE_FULL
    else:
        import psycopg

        driver_error = psycopg.errors.DiskFull("could not extend file")
    error = OperationalError("INSERT …", {}, driver_error)

    from deskwoot.services.conversations import inbound as inbound_service

    def full(*_args, **_kwargs):
        raise error

    monkeypatch.setattr(inbound_service, "receive_inbound", full)
    refused = post_hook(client, desk["inbox"].uid)
    assert refused.status_code == 503
    assert refused.get_json()["error"]["code"] == "database_unavailable"


class _Driver(Exception):
    def __init__(self, sqlite_errorcode=None, sqlstate=None):
        super().__init__("driver error")
        if sqlite_errorcode is not None:
            self.sqlite_errorcode = sqlite_errorcode
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (OperationalError("INSERT", {}, _Driver(sqlite_errorcode=8)), True),  # READONLY
        (OperationalError("INSERT", {}, _Driver(sqlite_errorcode=1290)), True),  # IOERR_DIR_FSYNC
        (OperationalError("INSERT", {}, _Driver(sqlite_errorcode=13)), True),  # FULL
        (OperationalError("SELECT", {}, _Driver(sqlite_errorcode=14)), True),  # CANTOPEN
        (OperationalError("INSERT", {}, _Driver(sqlite_errorcode=5)), False),  # BUSY: a wait
        (OperationalError("SELECT", {}, _Driver(sqlite_errorcode=1)), False),  # a bad query
        (IntegrityError("INSERT", {}, _Driver(sqlite_errorcode=2067)), False),  # UNIQUE
        (OperationalError("INSERT", {}, _Driver(sqlstate="25006")), True),  # read-only txn
        (OperationalError("SELECT", {}, _Driver(sqlstate="57P01")), True),  # admin shutdown
        (OperationalError("SELECT", {}, _Driver(sqlstate="08006")), True),  # connection failure
        (OperationalError("SELECT", {}, _Driver(sqlstate="40P01")), False),  # deadlock: retried
        (IntegrityError("INSERT", {}, _Driver(sqlstate="23505")), False),  # unique violation
        (OperationalError("SELECT", {}, _Driver(), connection_invalidated=True), True),
        (DatabaseUnavailable("cannot open the writer queue"), True),
        (ValueError("not a database error"), False),
    ],
)
def test_which_errors_mean_the_database_is_unavailable(error, unavailable):
    assert is_unavailable(error) is unavailable


def test_any_other_database_error_is_still_a_500(app, desk, monkeypatch):
    """Only the database's state earns a 503: a real bug must stay visible as one."""
    from deskwoot.services.conversations import inbound as inbound_service

    def broken(*_args, **_kwargs):
        db.session.execute(text("SELECT no_such_column FROM inboxes"))

    monkeypatch.setattr(inbound_service, "receive_inbound", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as production does, not raise
    client = app.test_client()
    answer = post_hook(client, desk["inbox"].uid)
    assert answer.status_code == 500
    assert answer.get_json()["error"]["code"] == "internal"


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: its backends can be terminated")
def test_a_terminated_backend_is_a_503_then_the_next_request_works(app, client, desk):
    uid = desk["inbox"].uid
    assert post_hook(client, uid, "first").status_code == 201  # the pool holds a connection
    db.session.remove()  # return the test's own connection: it would be terminated too
    killer = db.engine.dialect.loaded_dbapi.connect(PG_URL, autocommit=True)
    try:
        killed = killer.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]
    finally:
        killer.close()
    assert killed >= 1
    refused = post_hook(client, uid, "second")
    assert refused.status_code == 503
    assert refused.get_json()["error"]["code"] == "database_unavailable"
    assert post_hook(client, uid, "third").status_code == 201
