"""Contacts, workspaces, teams and plans through their services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from deskwoot.errors import Conflict, Invalid, NotFound
from deskwoot.extensions import db
from deskwoot.models import AuditEntry, Event, Membership, User, Workspace, utcnow
from deskwoot.policy import mcp_lock_reason, system_actor
from deskwoot.services.access.password_hashing import verify_password
from deskwoot.services.directory import contacts, inboxes, invitations, workspaces
from tests import factories as f


def test_signup_starts_a_seven_day_enterprise_trial_with_an_admin(app):
    ws, user = workspaces.signup("Acme Support", "Ann", "Ann@Acme.test", "long enough pw")
    assert ws.plan == "trial" and ws.slug == "acme-support"
    assert timedelta(days=6, hours=23) < ws.trial_ends_at - utcnow() <= timedelta(days=7)
    assert workspaces.trial_days_left(ws) == 7
    assert verify_password(user.password_hash, "long enough pw")
    assert user.password_hash.startswith("$argon2id$")
    role = db.session.scalar(select(Membership.role).where(Membership.user_id == user.id))
    assert role == "admin"
    assert mcp_lock_reason(ws) is None
    second, _ = workspaces.signup("Acme Support", "Bob", "bob@acme.test", "long enough pw")
    assert second.slug == "acme-support-2"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"workspace_name": "", "email": "a@b.test", "password": "long enough pw"}, "name"),
        ({"workspace_name": "X", "email": "nope", "password": "long enough pw"}, "email"),
        ({"workspace_name": "X", "email": "a@b.test", "password": "short"}, "10 characters"),
    ],
)
def test_signup_rejects_bad_input(app, fields, message):
    with pytest.raises(Invalid, match=message):
        workspaces.signup(fields["workspace_name"], "N", fields["email"], fields["password"])
    assert db.session.scalar(select(Workspace.id)) is None


def test_signup_with_existing_email_is_a_conflict(app):
    workspaces.signup("One", "A", "a@b.test", "long enough pw")
    with pytest.raises(Conflict):
        workspaces.signup("Two", "A", "a@b.test", "long enough pw")


def test_plan_and_trial_gate_mcp(app):
    ws = f.make_workspace(plan="trial")
    operator = system_actor(ws)
    assert mcp_lock_reason(ws) is None
    workspaces.set_trial_end(operator, datetime(2020, 1, 1, tzinfo=UTC))
    assert mcp_lock_reason(ws) == "trial_expired"
    workspaces.set_plan(operator, "business")
    assert mcp_lock_reason(ws) == "plan_required"
    workspaces.set_plan(operator, "enterprise")
    assert mcp_lock_reason(ws) is None
    with pytest.raises(Invalid):
        workspaces.set_plan(operator, "platinum")
    actions = db.session.execute(select(AuditEntry.action)).scalars().all()
    assert actions.count("plan.changed") == 2 and "trial.changed" in actions


def test_add_teammate_roles_and_last_admin(app):
    ws = f.make_workspace()
    admin_user = f.make_user(ws, role="admin")
    admin = f.actor_for(admin_user, ws)
    inbox = f.make_inbox(ws)
    operator = system_actor(ws)
    agent = workspaces.add_teammate(operator, "Agent@Team.test", "agent", inbox_ids=[inbox.id])
    assert agent.email == "agent@team.test"
    assert f.actor_for(agent, ws).inbox_ids == frozenset({inbox.id})
    with pytest.raises(Conflict):
        workspaces.add_teammate(operator, "agent@team.test", "agent")
    with pytest.raises(Conflict, match="at least one admin"):
        workspaces.set_role(admin, admin_user.id, "agent")
    workspaces.set_role(admin, agent.id, "admin")
    workspaces.remove_teammate(admin, agent.id)
    with pytest.raises(NotFound):
        f.actor_for(agent, ws)
    with pytest.raises(NotFound):
        workspaces.add_teammate(f.actor_for(f.make_user(ws), ws), "x@team.test", "agent")
    # Not even an admin adds people directly: they invite (services/directory/invitations.py).
    with pytest.raises(NotFound):
        workspaces.add_teammate(admin, "x@team.test", "agent", password="admin's choice!")


def test_inbox_secret_is_hashed_and_authenticates(app):
    ws = f.make_workspace()
    admin = f.actor_for(f.make_user(ws, role="admin"), ws)
    inbox, secret = inboxes.create_inbox(admin, "Support")
    assert secret not in inbox.secret_hash
    assert inboxes.authenticate_inbound(inbox.uid, secret).id == inbox.id
    with pytest.raises(PermissionError):
        inboxes.authenticate_inbound(inbox.uid, "dw_in_wrong")
    _, new_secret = inboxes.rotate_secret(admin, inbox.id)
    with pytest.raises(PermissionError):
        inboxes.authenticate_inbound(inbox.uid, secret)
    assert inboxes.authenticate_inbound(inbox.uid, new_secret)
    with pytest.raises(Conflict):
        inboxes.create_inbox(admin, "Support")


@pytest.mark.parametrize("phone", ["١٢٣٤", "１２３４", "+44 ٢٠ 7946", "０１２３-４５"])
def test_phone_numbers_take_ascii_digits_and_punctuation_only(app, phone):
    """One rule for every entry point (MCP, web form): other scripts' digits pass
    str.isdigit() but are refused here."""
    ws = f.make_workspace()
    admin = f.actor_for(f.make_user(ws, role="admin"), ws)
    with pytest.raises(Invalid, match="0-9") as refused:
        contacts.create_contact(admin, name="Dee", phone=phone)
    assert refused.value.field == "phone"
    assert contacts.create_contact(admin, name="Dee", phone="+44 (20) 7946-0958.1").phone


def test_contacts_create_update_note_and_events(app):
    ws = f.make_workspace()
    admin = f.actor_for(f.make_user(ws, role="admin"), ws)
    contact = contacts.create_contact(
        admin, name="Jane", email="JANE@example.com", custom_attributes={"plan": "pro", "seats": 5}
    )
    assert contact.email == "jane@example.com" and contact.created_via == "web"
    with pytest.raises(Conflict):
        contacts.create_contact(admin, email="jane@example.com")
    with pytest.raises(Invalid):
        contacts.create_contact(admin)
    with pytest.raises(Invalid):
        contacts.create_contact(admin, name="X", custom_attributes=["not", "a", "dict"])
    contacts.update_contact(
        admin, contact.id, phone="+1 555 0100", custom_attributes={"seats": None, "tier": "gold"}
    )
    assert contact.custom_attributes == {"plan": "pro", "tier": "gold"}
    note = contacts.add_note(admin, contact.id, "Prefers email")
    assert note.author_id == admin.user_id
    types = db.session.execute(select(Event.type).order_by(Event.id)).scalars().all()
    assert types == ["contact.created", "contact.updated", "contact.updated"]
    with pytest.raises(NotFound):
        contacts.update_contact(
            f.actor_for(
                f.make_user(f.make_workspace(), role="admin"), db.session.get(Workspace, ws.id + 1)
            ),
            contact.id,
            name="Hijack",
        )


def test_bots_cannot_log_in_or_be_teammates(app):
    ws = f.make_workspace()
    bot = User(email="bot@bots.invalid", name="Bot", kind="bot")
    db.session.add(bot)
    db.session.commit()
    admin = f.actor_for(f.make_user(ws, role="admin"), ws)
    with pytest.raises(Conflict):
        invitations.invite(admin, "bot@bots.invalid", "agent")
    with pytest.raises(Conflict):
        workspaces.add_teammate(system_actor(ws), "bot@bots.invalid", "agent")
