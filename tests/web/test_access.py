"""Who sees what: every page for admins, and 404 for whatever is outside an agent's reach."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from deskwoot.extensions import db
from deskwoot.models import Inbox, Label, Message
from tests import factories

ADMIN_PAGES = [
    "/conversations",
    "/conversations?status=all&q=parcel",
    "/conversations/{conv}",
    "/contacts",
    "/contacts?q=jane",
    "/contacts/new",
    "/contacts/{contact}",
    "/contacts/{contact}/edit",
    "/settings/inboxes",
    "/settings/team",
    "/settings/labels",
    "/settings/mcp",
    "/settings/audit",
    "/settings/billing",
]
SETTINGS_PAGES = [
    "/settings/",
    "/settings/inboxes",
    "/settings/team",
    "/settings/labels",
    "/settings/mcp",
    "/settings/audit",
    "/settings/billing",
]


def _fill(desk, path: str) -> str:
    return desk.url(path.format(conv=desk.conversation.display_id, contact=desk.contact.id))


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_every_page_renders_for_an_admin(as_admin, desk, path):
    response = as_admin.get(_fill(desk, path))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Acme Support" in page  # the layout, with its workspace switcher
    assert ">Settings</a>" in page


def test_account_page_renders(as_admin):
    assert "Change password" in as_admin.get("/account/password").get_data(as_text=True)


@pytest.mark.parametrize("path", SETTINGS_PAGES)
def test_agents_do_not_find_settings(as_agent, desk, path):
    assert as_agent.get(desk.url(path)).status_code == 404


def test_agents_cannot_post_to_settings(as_agent, desk):
    assert (
        as_agent.post(
            desk.url("/settings/inboxes"), data={"name": "Sneaky", "channel": "api"}
        ).status_code
        == 404
    )
    assert (
        as_agent.post(
            desk.url("/settings/labels"), data={"name": "sneaky", "color": "#000000"}
        ).status_code
        == 404
    )
    assert (
        as_agent.post(
            desk.url(f"/settings/team/{desk.agent.id}/role"), data={"role": "admin"}
        ).status_code
        == 404
    )
    assert db.session.execute(select(Inbox).where(Inbox.name == "Sneaky")).first() is None
    assert db.session.execute(select(Label)).first() is None


def test_agents_nav_has_no_settings(as_agent, desk):
    page = as_agent.get(desk.url("/conversations")).get_data(as_text=True)
    assert ">Settings</a>" not in page
    assert ">Conversations</a>" in page and ">Contacts</a>" in page


def test_agents_see_only_their_inboxes_conversations(as_agent, desk):
    page = as_agent.get(desk.url("/conversations")).get_data(as_text=True)
    assert "Lost parcel" in page
    assert "Sam Prospect" not in page
    assert as_agent.get(desk.conv_url()).status_code == 200


@pytest.mark.parametrize(
    "action",
    ["", "reply", "note", "status", "priority", "labels", "assign", "take-over", "hand-back"],
)
def test_conversations_in_other_inboxes_are_404(as_agent, desk, action):
    before = db.session.execute(select(func.count()).select_from(Message)).scalar_one()
    url = desk.conv_url(desk.hidden, action)
    if action:
        response = as_agent.post(
            url, data={"body": "hello", "status": "resolved", "priority": "high", "assignee_id": ""}
        )
    else:
        response = as_agent.get(url)
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.execute(select(func.count()).select_from(Message)).scalar_one() == before
    assert (desk.hidden.status, desk.hidden.priority) == ("open", "none")


def test_other_workspaces_are_404(as_admin, desk):
    elsewhere = factories.make_workspace("Initech")
    inbox = factories.make_inbox(elsewhere)
    conversation = factories.make_conversation(inbox)
    for path in (
        "/conversations",
        f"/conversations/{conversation.display_id}",
        "/contacts",
        "/settings/inboxes",
    ):
        assert as_admin.get(f"/w/{elsewhere.slug}{path}").status_code == 404
    assert (
        as_admin.post(
            f"/w/{elsewhere.slug}/conversations/{conversation.display_id}/reply",
            data={"body": "hi"},
        ).status_code
        == 404
    )
    assert as_admin.get("/w/no-such-workspace/conversations").status_code == 404


def test_switcher_lists_every_workspace_of_the_person(as_admin, desk):
    second = factories.make_workspace("Second Desk")
    db.session.add(
        factories.Membership(workspace_id=second.id, user_id=desk.admin.id, role="agent")
    )
    db.session.commit()
    page = as_admin.get(desk.url("/conversations")).get_data(as_text=True)
    assert f'href="/w/{second.slug}/conversations"' in page
    assert as_admin.get(f"/w/{second.slug}/conversations").status_code == 200
