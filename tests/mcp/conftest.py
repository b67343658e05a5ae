"""Fixtures for MCP tests: a live multi-worker gunicorn on its own database, tokens, and the
official `mcp` client bound to them.

`live` is module-scoped (starting gunicorn costs a second or two), so modules that use it must
not also use the function-scoped `app`/`database_url` fixtures (on PostgreSQL those truncate
the shared test database under the running server).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from deskwoot import create_app
from deskwoot.extensions import db
from deskwoot.policy import SCOPES, member_actor
from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.services.access import tokens
from tests import factories as f
from tests.conftest import fresh_database
from tests.mcp.helpers import fresh
from tests.mcp.server import LiveServer, gunicorn

MODES = ("legacy", "2026-07-28")


@dataclass
class Live:
    app: object
    server: LiveServer
    database_url: str

    @property
    def url(self) -> str:
        return self.server.mcp_url


def side_app(database_url: str, **config):
    """An app on a live server's database, for arranging and checking rows beside it (its
    config must match the server's where the test relies on it, e.g. rate limits)."""
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret-key",
            "TESTING": True,
            "PUBLIC_URL": "http://127.0.0.1",
            **config,
        }
    )


@contextmanager
def live_server(template_db, tmp_path_factory) -> Iterator[Live]:
    """Deskwoot under gunicorn with 2 workers, and an app context on the same database."""
    tmp = tmp_path_factory.mktemp("live")
    url = fresh_database(template_db, tmp / "live.sqlite3")
    app = side_app(url)
    with app.app_context(), gunicorn(url, tmp, workers=2) as server:
        yield Live(app, server, url)
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def live(template_db, tmp_path_factory):
    """One live server per module (tests/mcp/e2e shares one across its package)."""
    with live_server(template_db, tmp_path_factory) as server:
        yield server


@pytest.fixture
def fresh_session(live):
    """Start and end a test without a stale read snapshot: on SQLite, a transaction that read
    before the server's last commit cannot become a writer ("database is locked"). Modules on
    `live` use it with `pytest.mark.usefixtures("fresh_session")`."""
    fresh()
    yield
    fresh()


@dataclass
class Desk:
    """A workspace with MCP on, two inboxes, an admin, and helpers to mint tokens."""

    workspace: object
    admin: object
    inbox: object
    other_inbox: object

    @property
    def admin_actor(self):
        return member_actor(self.admin, self.workspace)

    def mint(self, scopes=SCOPES, inbox_ids=None, name="Test bot") -> str:
        return tokens.mint(self.admin_actor, name, list(scopes), inbox_ids=inbox_ids).plaintext


def make_desk(plan: str = "trial") -> Desk:
    # End any read snapshot the shared session holds: the server process has written since,
    # and SQLite would refuse to upgrade a stale snapshot to a write.
    db.session.rollback()
    ws = f.make_workspace(plan=plan)
    admin = f.make_user(ws, role="admin", name="Ada Admin")
    inbox = f.make_inbox(ws, name="Support")
    other = f.make_inbox(ws, name="Billing")
    mcp_settings.set_enabled(member_actor(admin, ws), True)
    db.session.expire_all()
    return Desk(ws, admin, inbox, other)


@asynccontextmanager
async def connect(url: str, token: str | None, mode: str = "legacy", headers: dict | None = None):
    """The official client, speaking `mode`, with the bearer token on every request."""
    all_headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
    async with (
        httpx2.AsyncClient(headers=all_headers, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        yield client
