"""Settings > Team invites people; the invitee accepts through a one-time link.

The review's account pre-registration takeover: accounts are shared across workspaces, and
an admin could create one with a password of their own choosing, which a later workspace
adding the same address would silently attach. An admin now only invites; nobody chooses
another person's password, and an existing account joins only when its owner accepts.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from deskwoot.extensions import db
from deskwoot.models import (
    AuditEntry,
    InboxMember,
    Invitation,
    Membership,
    User,
    Workspace,
    utcnow,
)
from deskwoot.services.access.password_hashing import verify_password
from deskwoot.services.directory import invitations as invitation_service
from tests import factories

INVITE_RE = re.compile(r"http://localhost/invite/([A-Za-z0-9_\-]+)")
JOIN = {"name": "Cy Newcomer", "new_password": "cy chose this", "confirm": "cy chose this"}


def _login(client, email: str, password: str = factories.PASSWORD, next_url: str = ""):
    return client.post("/login", data={"email": email, "password": password, "next": next_url})


def _invite(client, desk, email: str, role: str = "agent", **extra) -> str:
    """Invite through the form and read the link off the one-time reveal page."""
    response = client.post(desk.url("/settings/team"), data={"email": email, "role": role, **extra})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"].endswith("/settings/team/link")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    return INVITE_RE.search(page).group(1)


def _actions() -> list[str]:
    return list(
        db.session.execute(
            select(AuditEntry.action)
            .where(AuditEntry.action.like("team.invite_%"))
            .order_by(AuditEntry.id)
        ).scalars()
    )


def _members(workspace_id: int) -> dict[str, str]:
    db.session.expire_all()
    rows = db.session.execute(
        select(User.email, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.workspace_id == workspace_id)
    )
    return dict(rows.all())


# --- the takeover from the review ------------------------------------------------------------


def test_pre_registering_an_address_no_longer_hands_over_the_real_workspace(app, desk):
    """Mallory's workspace invites cfo@acme.test before Acme does; Acme's invitation must not
    let her account in, and Acme's admin never chooses (or is refused) a password."""
    mallory = app.test_client()
    signup = {
        "workspace_name": "Mallory Corp",
        "name": "Mallory",
        "email": "mallory@evil.test",
        "password": "mallory's password",
    }
    assert mallory.post("/signup", data=signup).status_code == 302
    evil = db.session.execute(
        select(Workspace).join(Membership).join(User).where(User.email == "mallory@evil.test")
    ).scalar_one()

    # Mallory invites the CFO's address to her own workspace, trying to set its password.
    response = mallory.post(
        f"/w/{evil.slug}/settings/team",
        data={"email": "cfo@acme.test", "role": "agent", "password": "mallory's choice"},
    )
    assert response.status_code == 302
    reveal = mallory.get(response.headers["Location"]).get_data(as_text=True)
    mallory_link = INVITE_RE.search(reveal).group(1)
    # No account was made, and certainly none with the password she typed.
    assert db.session.execute(select(User).where(User.email == "cfo@acme.test")).first() is None
    # She holds the link, so she can set up cfo@acme.test herself: the one thing no sender-less
    # design can stop (with mail configured the link goes to the real mailbox instead).
    assert mallory.post(f"/invite/{mallory_link}", data=JOIN).status_code == 302

    # Acme's admin invites the real CFO: the form has no password, and nothing is attached.
    admin = app.test_client()
    _login(admin, desk.admin.email)
    form = admin.get(desk.url("/settings/team")).get_data(as_text=True)
    assert 'name="password"' not in form
    acme_link = _invite(admin, desk, "cfo@acme.test")
    assert "cfo@acme.test" not in _members(desk.workspace.id)

    # Mallory, logged in as cfo@acme.test, still cannot see Acme at all.
    thief = app.test_client()
    assert _login(thief, "cfo@acme.test", JOIN["new_password"]).status_code == 302
    assert thief.get(desk.url("/conversations")).status_code == 404
    # Only the link's holder, logged in as the address, could accept: the link went to the
    # real CFO, who (when locked out) resets the password, which ends Mallory's sessions.
    opened = app.test_client().get(f"/invite/{acme_link}")
    assert opened.status_code == 302 and "/login" in opened.headers["Location"]


# --- inviting someone new ------------------------------------------------------------------


def test_a_new_person_sets_their_own_name_and_password_from_a_link_shown_once(app, as_admin, desk):
    response = as_admin.post(
        desk.url("/settings/team"),
        data={"email": "Cy@Acme.test", "role": "agent", "inboxes": [str(desk.support.id)]},
    )
    assert response.status_code == 302  # PRG: a reload of the reveal cannot mint another link
    reveal = as_admin.get(desk.url("/settings/team/link"))
    assert reveal.status_code == 200
    token = INVITE_RE.search(reveal.get_data(as_text=True)).group(1)
    again = as_admin.get(desk.url("/settings/team/link"), follow_redirects=True)
    assert token not in again.get_data(as_text=True)
    assert "shown once" in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 1
    stored = db.session.execute(select(Invitation)).scalar_one()
    assert token not in stored.token_hash  # only its digest is kept
    assert timedelta(days=6, hours=23) < stored.expires_at - utcnow() <= timedelta(days=7)

    team = as_admin.get(desk.url("/settings/team")).get_data(as_text=True)
    assert "cy@acme.test" in team and "Ada Admin" in team and token not in team

    invitee = app.test_client()
    page = invitee.get(f"/invite/{token}").get_data(as_text=True)
    assert "cy@acme.test" in page and "Acme Support" in page
    joined = invitee.post(f"/invite/{token}", data=JOIN)
    assert joined.status_code == 302
    assert joined.headers["Location"].endswith(desk.url("/conversations"))
    assert "Lost parcel" in invitee.get(desk.url("/conversations")).get_data(as_text=True)

    cy = db.session.execute(select(User).where(User.email == "cy@acme.test")).scalar_one()
    assert cy.name == "Cy Newcomer" and verify_password(cy.password_hash, JOIN["new_password"])
    assert _members(desk.workspace.id)["cy@acme.test"] == "agent"
    worked = db.session.scalars(select(InboxMember.inbox_id).where(InboxMember.user_id == cy.id))
    assert list(worked) == [desk.support.id]
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0

    # Single use: nobody can use the link again to reset Cy's password or join again.
    stranger = app.test_client()
    assert stranger.get(f"/invite/{token}").status_code == 404
    assert stranger.post(f"/invite/{token}", data=JOIN).status_code == 404
    assert _actions() == ["team.invite_created", "team.invite_accepted"]


def test_a_weak_password_keeps_the_invitation_open(app, as_admin, desk):
    token = _invite(as_admin, desk, "dee@acme.test")
    invitee = app.test_client()
    short = invitee.post(f"/invite/{token}", data={"new_password": "short", "confirm": "short"})
    assert short.status_code == 200 and "at least 10 characters" in short.get_data(as_text=True)
    assert invitee.post(f"/invite/{token}", data=JOIN).status_code == 302


# --- inviting someone who already has an account ------------------------------------------


@pytest.fixture
def outsider(app):
    """bo@elsewhere.test, with an account (and password) from another workspace."""
    return factories.make_user(factories.make_workspace(), email="bo@elsewhere.test", name="Bo")


def test_an_existing_account_joins_only_when_its_owner_accepts(app, as_admin, desk, outsider):
    token = _invite(as_admin, desk, outsider.email, role="admin")
    link = f"/invite/{token}"

    anonymous = app.test_client()
    opened = anonymous.get(link)
    assert opened.status_code == 302 and "/login?next=" in opened.headers["Location"]
    # Posting the link's form without logging in creates or changes nothing.
    assert anonymous.post(link, data=JOIN).status_code == 302
    assert outsider.email not in _members(desk.workspace.id)

    # Logged in as someone else (here, a teammate of Acme): refused, nothing joined.
    other = app.test_client()
    _login(other, desk.agent.email)
    assert other.get(link).status_code == 403
    assert other.post(link).status_code == 403
    assert outsider.email not in _members(desk.workspace.id)

    bo = app.test_client()
    logged_in = _login(bo, outsider.email, next_url=link)
    assert logged_in.headers["Location"] == link
    page = bo.get(link).get_data(as_text=True)
    assert "Join Acme Support as admin?" in page
    db.session.expire_all()
    assert verify_password(db.session.get(User, outsider.id).password_hash, factories.PASSWORD)
    accepted = bo.post(link)
    assert accepted.status_code == 302
    assert accepted.headers["Location"].endswith(desk.url("/conversations"))
    assert _members(desk.workspace.id)[outsider.email] == "admin"
    assert bo.get(desk.url("/settings/team")).status_code == 200
    assert bo.post(link).status_code == 404  # spent
    assert _actions() == ["team.invite_created", "team.invite_accepted"]


# --- managing invitations ------------------------------------------------------------------


def test_a_new_link_replaces_the_old_one_and_revoking_kills_it(app, as_admin, desk):
    first = _invite(as_admin, desk, "eve@acme.test")
    invitation = db.session.execute(select(Invitation)).scalar_one()
    fresh = as_admin.post(desk.url(f"/settings/team/invitations/{invitation.id}/link"))
    assert fresh.headers["Location"].endswith("/settings/team/link")
    second = INVITE_RE.search(as_admin.get(fresh.headers["Location"]).get_data(as_text=True))
    second = second.group(1)
    assert second != first
    browser = app.test_client()
    assert browser.get(f"/invite/{first}").status_code == 404
    assert browser.get(f"/invite/{second}").status_code == 200

    revoked = as_admin.post(
        desk.url(f"/settings/team/invitations/{invitation.id}/revoke"), follow_redirects=True
    )
    assert "Invitation for eve@acme.test revoked." in revoked.get_data(as_text=True)
    assert browser.get(f"/invite/{second}").status_code == 404
    assert browser.post(f"/invite/{second}", data=JOIN).status_code == 404
    assert db.session.execute(select(User).where(User.email == "eve@acme.test")).first() is None
    assert _actions() == ["team.invite_created", "team.invite_link_created", "team.invite_revoked"]


def test_an_expired_invitation_stops_working_and_may_be_sent_again(app, as_admin, desk):
    token = _invite(as_admin, desk, "fay@acme.test")
    db.session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    assert app.test_client().get(f"/invite/{token}").status_code == 404
    assert "Expired" in as_admin.get(desk.url("/settings/team")).get_data(as_text=True)
    renewed = _invite(as_admin, desk, "fay@acme.test")
    assert app.test_client().get(f"/invite/{renewed}").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 1


@pytest.mark.parametrize(
    ("email", "message"),
    [("andy@acme.test", "already on this team"), ("gus@acme.test", "already been invited")],
)
def test_inviting_a_member_or_twice_is_a_form_error(as_admin, desk, email, message):
    if email == "gus@acme.test":
        _invite(as_admin, desk, email)
    response = as_admin.post(desk.url("/settings/team"), data={"email": email, "role": "agent"})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_a_simultaneous_twin_invitation_is_a_form_error_not_a_500(as_admin, desk, monkeypatch):
    """Two admins inviting one address at the same moment both pass the "already invited?"
    check; the unique index decides, and the loser gets a form error (here the check is
    skipped to stand for the other admin's commit landing between check and insert)."""
    _invite(as_admin, desk, "hal@acme.test")
    monkeypatch.setattr(invitation_service, "_pending", lambda *_args: None)
    response = as_admin.post(
        desk.url("/settings/team"), data={"email": "hal@acme.test", "role": "agent"}
    )
    assert response.status_code == 422
    assert "already been invited" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 1


def test_agents_cannot_invite_or_see_invitations(as_agent, desk):
    response = as_agent.post(
        desk.url("/settings/team"), data={"email": "ivy@acme.test", "role": "admin"}
    )
    assert response.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0
