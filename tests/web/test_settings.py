"""Settings for admins: inboxes and their one-time secrets, team, labels, billing."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from deskwoot.extensions import db
from deskwoot.models import Inbox, InboxMember, Label, Membership, User, utcnow
from deskwoot.services.access.random_secrets import matches
from tests import factories

SECRET_RE = re.compile(r"dw_in_[A-Za-z0-9_\-]{20,}")
LINK_RE = re.compile(r"http://localhost/set-password/([A-Za-z0-9_\-]+)")


def _inbox(name: str) -> Inbox:
    db.session.expire_all()
    return db.session.execute(select(Inbox).where(Inbox.name == name)).scalar_one()


# --- inboxes ---------------------------------------------------------------------------------


def follow_reveal(client, response):
    """A create or rotate POST redirects (PRG) to the one-time secret page: GET it."""
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert re.search(r"/settings/inboxes/\d+/secret", location)
    return location, client.get(location)


def test_creating_an_inbox_shows_its_secret_exactly_once(as_admin, desk):
    response = as_admin.post(
        desk.url("/settings/inboxes"),
        data={
            "name": "Billing",
            "channel": "api",
            "members": [str(desk.agent.id)],
        },
    )
    location, shown = follow_reveal(as_admin, response)
    assert shown.status_code == 200
    page = shown.get_data(as_text=True)
    assert "Inbox created" in page
    secret = SECRET_RE.search(page).group(0)
    inbox = _inbox("Billing")
    assert matches(secret, inbox.secret_hash)
    assert f"http://localhost/hooks/inbound/{inbox.uid}" in page
    assert f"curl -X POST http://localhost/hooks/inbound/{inbox.uid}" in page
    assert f"Authorization: Bearer {secret}" in page
    assert [member.id for member in inbox.members] == [desk.agent.id]
    with as_admin.session_transaction() as session:
        assert secret not in repr(dict(session))  # read once, then gone from the cookie

    # Reloading shows no secret, creates nothing and changes nothing.
    again = as_admin.get(location).get_data(as_text=True)
    assert SECRET_RE.search(again) is None
    assert 'data-testid="secret-already-shown"' in again and "Rotate secret" in again
    assert _inbox("Billing").secret_hash == inbox.secret_hash
    assert db.session.execute(select(Inbox).where(Inbox.name == "Billing")).scalars().all()

    listing = as_admin.get(desk.url("/settings/inboxes")).get_data(as_text=True)
    assert "Billing" in listing
    assert secret not in listing
    assert secret[-4:] in listing  # only the last four, to recognise it


def test_a_duplicate_inbox_name_is_refused(as_admin, desk):
    response = as_admin.post(
        desk.url("/settings/inboxes"), data={"name": "Support", "channel": "api"}
    )
    assert response.status_code == 422
    assert "already an inbox called" in response.get_data(as_text=True)


def test_rotating_a_secret_replaces_it(as_admin, desk):
    response = as_admin.post(desk.url(f"/settings/inboxes/{desk.sales.id}/rotate"))
    location, shown = follow_reveal(as_admin, response)
    page = shown.get_data(as_text=True)
    assert f"New secret for {desk.sales.name}" in page
    secret = SECRET_RE.search(page).group(0)
    inbox = _inbox("Sales")
    assert matches(secret, inbox.secret_hash)
    assert not matches("dw_in_test", inbox.secret_hash)

    # A reload does not rotate again: the secret just shown keeps working.
    again = as_admin.get(location).get_data(as_text=True)
    assert SECRET_RE.search(again) is None and "already shown" in again
    assert matches(secret, _inbox("Sales").secret_hash)


def test_a_secret_page_for_an_inbox_elsewhere_is_not_found(as_admin, desk):
    other = factories.make_workspace("Elsewhere")
    elsewhere = factories.make_inbox(other, name="Theirs")
    assert as_admin.get(desk.url(f"/settings/inboxes/{elsewhere.id}/secret")).status_code == 404


def test_inbox_members_can_be_changed(as_admin, desk):
    as_admin.post(
        desk.url(f"/settings/inboxes/{desk.sales.id}/members"),
        data={"members": [str(desk.agent.id), str(desk.admin.id)]},
    )
    members = (
        db.session.execute(select(InboxMember.user_id).where(InboxMember.inbox_id == desk.sales.id))
        .scalars()
        .all()
    )
    assert sorted(members) == sorted([desk.agent.id, desk.admin.id])


# --- team ------------------------------------------------------------------------------------


# Inviting people (and the invitee's side) is in test_invitations.py.


def test_no_link_for_someone_who_already_has_a_password(as_admin, desk):
    response = as_admin.post(
        desk.url(f"/settings/team/{desk.agent.id}/link"), follow_redirects=True
    )
    assert "already set a password" in response.get_data(as_text=True)
    assert not LINK_RE.search(response.get_data(as_text=True))


def test_change_role_and_remove(as_admin, desk):
    as_admin.post(desk.url(f"/settings/team/{desk.agent.id}/role"), data={"role": "admin"})
    role = db.session.execute(
        select(Membership.role).where(Membership.user_id == desk.agent.id)
    ).scalar_one()
    assert role == "admin"

    as_admin.post(desk.url(f"/settings/team/{desk.agent.id}/remove"))
    assert (
        db.session.execute(select(Membership).where(Membership.user_id == desk.agent.id)).first()
        is None
    )
    assert db.session.get(User, desk.agent.id) is not None  # the account stays


def test_the_last_admin_cannot_step_down(as_admin, desk):
    response = as_admin.post(
        desk.url(f"/settings/team/{desk.admin.id}/role"),
        data={"role": "agent"},
        follow_redirects=True,
    )
    assert "at least one admin" in response.get_data(as_text=True)
    role = db.session.execute(
        select(Membership.role).where(Membership.user_id == desk.admin.id)
    ).scalar_one()
    assert role == "admin"


# --- labels and billing --------------------------------------------------------------------------


def test_create_and_delete_labels(as_admin, desk):
    as_admin.post(desk.url("/settings/labels"), data={"name": "VIP", "color": "#D97706"})
    label = db.session.execute(select(Label)).scalar_one()
    assert (label.name, label.color) == ("vip", "#d97706")
    assert 'data-color="#d97706"' in as_admin.get(desk.url("/settings/labels")).get_data(
        as_text=True
    )

    as_admin.post(desk.url(f"/settings/labels/{label.id}/delete"))
    assert db.session.execute(select(Label)).first() is None


def test_a_bad_label_colour_is_explained(as_admin, desk):
    response = as_admin.post(desk.url("/settings/labels"), data={"name": "x", "color": "red"})
    assert response.status_code == 422
    assert "Colour must look like" in response.get_data(as_text=True)
    assert db.session.execute(select(Label)).first() is None


def test_billing_shows_the_trial(as_admin, desk):
    page = as_admin.get(desk.url("/settings/billing")).get_data(as_text=True)
    assert "Enterprise trial" in page
    assert "7 days left" in page
    assert "The MCP server and the REST API are <strong>available</strong>" in page
    assert f"deskwoot plan set {desk.workspace.slug} enterprise" in page


def test_billing_lists_the_rest_api_with_the_enterprise_features(as_admin, desk):
    page = as_admin.get(desk.url("/settings/billing")).get_data(as_text=True)
    assert "The MCP server and the REST API are <strong>available</strong>" in page
    row = re.search(r'<tr data-testid="rest-api-row">(.*?)</tr>', page, re.S).group(1)
    assert row.count("✓") == 1 and "Coming soon" not in row
    desk.workspace.trial_ends_at = utcnow() - timedelta(days=1)
    db.session.commit()
    page = as_admin.get(desk.url("/settings/billing")).get_data(as_text=True)
    assert "The MCP server and the REST API are <strong>locked</strong>" in page
    page = as_admin.get(desk.url("/conversations")).get_data(as_text=True)
    assert "the REST API are locked" in page  # the trial banner says so too


def test_billing_and_banner_after_the_trial_ends(as_admin, desk):
    desk.workspace.trial_ends_at = utcnow() - timedelta(days=1)
    db.session.commit()
    page = as_admin.get(desk.url("/settings/billing")).get_data(as_text=True)
    assert "Trial ended" in page
    assert "<strong>locked</strong>" in page
    assert "Your Enterprise trial has ended." in page


def test_enterprise_has_no_trial_banner(as_admin, desk):
    desk.workspace.plan = "enterprise"
    db.session.commit()
    page = as_admin.get(desk.url("/settings/billing")).get_data(as_text=True)
    assert "Enterprise trial" not in page
    assert "<strong>available</strong>" in page


def test_a_second_admin_sees_the_same_settings(client, auth, desk):
    other = factories.make_user(desk.workspace, role="admin")
    auth.login(other.email)
    assert client.get(desk.url("/settings/team")).status_code == 200
