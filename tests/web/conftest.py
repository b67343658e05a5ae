"""A small help desk to click around in: one workspace, an admin, an agent, two inboxes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from deskwoot.models import Contact, Conversation, Inbox, User, Workspace
from tests import factories


@dataclass
class Desk:
    workspace: Workspace
    admin: User
    agent: User
    support: Inbox  # the agent works this one
    sales: Inbox  # and not this one
    contact: Contact
    conversation: Conversation  # in support
    hidden: Conversation  # in sales

    def url(self, path: str = "") -> str:
        return f"/w/{self.workspace.slug}{path}"

    def conv_url(self, conversation: Conversation | None = None, action: str = "") -> str:
        conversation = conversation or self.conversation
        suffix = f"/{action}" if action else ""
        return self.url(f"/conversations/{conversation.display_id}{suffix}")


@pytest.fixture
def desk(app) -> Desk:
    ws = factories.make_workspace("Acme Support")
    admin = factories.make_user(ws, role="admin", name="Ada Admin", email="ada@acme.test")
    support = factories.make_inbox(ws, name="Support")
    sales = factories.make_inbox(ws, name="Sales")
    agent = factories.make_user(
        ws, role="agent", inboxes=[support], name="Andy Agent", email="andy@acme.test"
    )
    contact = factories.make_contact(ws, name="Jane Customer", email="jane@example.com")
    conversation = factories.make_conversation(
        support, contact, content="My parcel never arrived", subject="Lost parcel"
    )
    other = factories.make_contact(ws, name="Sam Prospect", email="sam@example.com")
    hidden = factories.make_conversation(sales, other, content="Do you offer volume pricing?")
    return Desk(ws, admin, agent, support, sales, contact, conversation, hidden)


@pytest.fixture
def as_admin(client, auth, desk):
    """The test client, logged in as the workspace admin."""
    assert auth.login(desk.admin.email).status_code == 302
    return client


@pytest.fixture
def as_agent(client, auth, desk):
    """The test client, logged in as an agent who works only the Support inbox."""
    assert auth.login(desk.agent.email).status_code == 302
    return client
