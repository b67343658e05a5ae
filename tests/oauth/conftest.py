"""Fixtures for the OAuth tests: the browser tests' live server (a real werkzeug server on the
test's database, CSRF on) and a workspace whose admin can approve connectors."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from deskwoot.extensions import db
from deskwoot.models import Inbox, User, Workspace
from deskwoot.policy import member_actor
from deskwoot.services.access import mcp_switch
from tests import factories
from tests.browser.conftest import (  # noqa: F401  (fixtures, shared with the browser tests)
    live_server,
    live_server_app,
    page,
    page_log,
    pytest_runtest_makereport,
)

ADMIN_EMAIL = "ann@acme.test"
AGENT_EMAIL = "sam@acme.test"


@dataclass
class Desk:
    workspace: Workspace
    admin: User
    agent: User
    support: Inbox
    sales: Inbox


@pytest.fixture
def desk(app) -> Desk:
    """Acme Support on a trial, the MCP server on, an admin and a (non-admin) agent."""
    ws = factories.make_workspace("Acme Support")
    admin = factories.make_user(ws, role="admin", name="Ann Admin", email=ADMIN_EMAIL)
    agent = factories.make_user(ws, role="agent", name="Sam Agent", email=AGENT_EMAIL)
    support = factories.make_inbox(ws, name="Support", members=[admin, agent])
    sales = factories.make_inbox(ws, name="Sales", members=[admin])
    contact = factories.make_contact(ws, name="Jane Customer", email="jane@example.com")
    factories.make_conversation(support, contact, subject="Where is my order?")
    factories.make_conversation(sales, contact, subject="Volume pricing")
    mcp_switch.set_enabled(member_actor(admin, ws), True)
    db.session.expire_all()
    return Desk(ws, admin, agent, support, sales)


def log_in(on: Page, email: str = ADMIN_EMAIL) -> None:
    """Log in on the login page the consent redirect leads to (it returns to the consent)."""
    on.get_by_label("Email").fill(email)
    on.get_by_label("Password").fill(factories.PASSWORD)
    on.get_by_role("button", name="Log in").click()
    expect(on).to_have_url(re.compile(r"/oauth/authorize\?"))
