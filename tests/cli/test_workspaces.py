"""`deskwoot workspace|plan|trial|inbox|user …`, through the Flask CLI runner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from deskwoot.extensions import db
from deskwoot.models import AuditEntry, Inbox, InboxMember, Membership, User, Workspace, utcnow
from deskwoot.services.access import logins as auth
from deskwoot.services.access.password_hashing import verify_password
from deskwoot.services.directory import inboxes
from tests import factories as f
from tests.cli.helpers import assert_error, last_line, ok


def workspace(slug: str) -> Workspace:
    return db.session.execute(select(Workspace).where(Workspace.slug == slug)).scalar_one()


# --- workspaces, plans, trials -------------------------------------------------------------


def test_workspace_create_with_password(runner):
    out = ok(
        runner.invoke(
            args=[
                "workspace",
                "create",
                "Globex Support",
                "--admin-email",
                "Hank@Globex.test",
                "--admin-password",
                "long enough pw",
                "--admin-name",
                "Hank",
            ]
        )
    )
    assert "slug: globex-support" in out and "Plan: trial" in out and "7 days left" in out
    assert "set-password" not in out
    ws = workspace("globex-support")
    assert ws.plan == "trial"
    assert timedelta(days=6, hours=23) < ws.trial_ends_at - utcnow() <= timedelta(days=7)
    admin = db.session.execute(select(User).where(User.email == "hank@globex.test")).scalar_one()
    assert admin.name == "Hank" and verify_password(admin.password_hash, "long enough pw")
    role = db.session.scalar(select(Membership.role).where(Membership.workspace_id == ws.id))
    assert role == "admin"


def test_workspace_create_without_password_prints_a_working_link(runner):
    result = runner.invoke(
        args=[
            "workspace",
            "create",
            "Initech",
            "--admin-email",
            "peter@initech.test",
            "--plan",
            "enterprise",
        ]
    )
    assert "Plan: enterprise" in ok(result)
    link = last_line(result)
    assert link.startswith("http://localhost/set-password/")
    assert auth.password_link_user(link.rsplit("/", 1)[1]).email == "peter@initech.test"
    assert workspace("initech").plan == "enterprise"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--admin-email", "not-an-email"], "valid email"),
        (["--admin-email", "a@b.test", "--plan", "gold"], "Plan must be one of"),
        (["--admin-email", "a@b.test", "--admin-password", "short"], "10 characters"),
    ],
)
def test_workspace_create_rejects_bad_input(runner, args, message):
    assert_error(runner.invoke(args=["workspace", "create", "Nope", *args]), message)
    assert db.session.scalar(select(func.count()).select_from(Workspace)) == 0


def test_workspace_list_shows_plan_trial_mcp_and_team(runner, ws):
    f.make_user(ws, role="admin")
    f.make_user(ws)
    f.make_workspace(name="Big Corp", slug="bigcorp", plan="enterprise", mcp_enabled=True)
    f.make_workspace(name="Old", slug="old", trial_ends_at=utcnow() - timedelta(days=1))
    rows = {
        line.split()[0]: line.split()
        for line in ok(runner.invoke(args=["workspace", "list"])).splitlines()[2:]
    }
    assert rows["acme"][1:] == ["Acme", "trial", "7", "days", "left", "off", "2"]
    assert rows["bigcorp"][-2:] == ["on", "0"] and rows["bigcorp"][3] == "enterprise"
    assert "ended" in rows["old"] and "(locked" in rows["old"]


def test_plan_set_changes_the_plan_and_audits_it(runner, ws):
    out = ok(runner.invoke(args=["plan", "set", "acme", "Enterprise"]))
    assert "now on the enterprise plan" in out
    assert workspace("acme").plan == "enterprise"
    ok(runner.invoke(args=["plan", "set", "acme", "starter"]))
    assert workspace("acme").plan == "starter"
    entry = (
        db.session.execute(
            select(AuditEntry)
            .where(AuditEntry.action == "plan.changed")
            .order_by(AuditEntry.id.desc())
        )
        .scalars()
        .first()
    )
    assert entry.detail == "enterprise -> starter" and entry.actor_type == "system"


def test_plan_set_rejects_an_unknown_plan(runner, ws):
    assert_error(runner.invoke(args=["plan", "set", "acme", "gold"]), "Plan must be one of")
    assert workspace("acme").plan == "trial"


def test_trial_set_accepts_z_and_offsets(runner, ws):
    out = ok(runner.invoke(args=["trial", "set", "acme", "--ends-at", "2030-12-01T00:00:00Z"]))
    assert "2030-12-01 00:00 UTC" in out
    assert workspace("acme").trial_ends_at == datetime(2030, 12, 1, tzinfo=UTC)
    ok(runner.invoke(args=["trial", "set", "acme", "--ends-at", "2020-01-01T02:00:00+02:00"]))
    assert workspace("acme").trial_ends_at == datetime(2020, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "message"),
    [("next tuesday", "not an ISO 8601 time"), ("2030-12-01T00:00:00", "needs a timezone")],
)
def test_trial_set_rejects_bad_dates(runner, ws, value, message):
    before = workspace("acme").trial_ends_at
    assert_error(runner.invoke(args=["trial", "set", "acme", "--ends-at", value]), message)
    assert workspace("acme").trial_ends_at == before


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "set", "nope", "enterprise"],
        ["trial", "set", "nope", "--ends-at", "2030-01-01T00:00:00Z"],
        ["inbox", "create", "nope", "Support"],
        ["user", "add", "nope", "a@b.test", "--role", "agent"],
    ],
)
def test_unknown_workspace_is_one_clear_line(runner, ws, args):
    assert_error(runner.invoke(args=args), "No workspace with slug 'nope'.")


# --- inboxes and people --------------------------------------------------------------------


def test_inbox_create_prints_a_secret_that_authenticates(runner, ws):
    result = runner.invoke(args=["inbox", "create", "acme", "Support"])
    out = ok(result)
    inbox = db.session.execute(select(Inbox).where(Inbox.workspace_id == ws.id)).scalar_one()
    assert inbox.name == "Support" and inbox.channel == "api"
    url = f"http://localhost/hooks/inbound/{inbox.uid}"
    assert f"Inbound URL: {url}" in out and f"curl -X POST {url}" in out
    secret = last_line(result)
    assert secret.startswith("dw_in_") and out.count(secret) == 1
    assert inboxes.authenticate_inbound(inbox.uid, secret).id == inbox.id
    with pytest.raises(PermissionError):
        inboxes.authenticate_inbound(inbox.uid, secret + "x")


@pytest.mark.parametrize("name", ["Support", "support"])
def test_inbox_create_rejects_a_duplicate_name(runner, ws, name):
    ok(runner.invoke(args=["inbox", "create", "acme", "Support"]))
    assert_error(runner.invoke(args=["inbox", "create", "acme", name]), "already an inbox")


def test_inbox_create_rejects_an_unknown_channel(runner, ws):
    assert_error(
        runner.invoke(args=["inbox", "create", "acme", "X", "--channel", "fax"]),
        "Channel must be one of",
    )


def test_user_add_without_password_prints_an_invitation_link(app, runner, ws):
    support = f.make_inbox(ws, name="Support")
    f.make_inbox(ws, name="Sales")
    result = runner.invoke(
        args=["user", "add", "acme", "Sam@Acme.test", "--role", "agent", "--inbox", "support"]
    )
    assert "Invited sam@acme.test to 'acme' as agent (Support)." in ok(result)
    link = last_line(result)
    assert link.startswith("http://localhost/invite/")
    # Nothing exists until Sam accepts; then Sam's own name and password are used.
    assert db.session.scalar(select(func.count()).select_from(Membership)) == 0
    data = {"name": "Sam", "new_password": "sam's own pw", "confirm": "sam's own pw"}
    assert (
        app.test_client().post(link.removeprefix("http://localhost"), data=data).status_code == 302
    )
    user = db.session.execute(select(User).where(User.email == "sam@acme.test")).scalar_one()
    assert user.name == "Sam" and verify_password(user.password_hash, "sam's own pw")
    role = db.session.scalar(select(Membership.role).where(Membership.user_id == user.id))
    assert role == "agent"
    worked = db.session.scalars(select(InboxMember.inbox_id).where(InboxMember.user_id == user.id))
    assert list(worked) == [support.id]


def test_user_add_with_password_sets_it(runner, ws):
    out = ok(
        runner.invoke(
            args=[
                "user",
                "add",
                "acme",
                "ann@acme.test",
                "--role",
                "admin",
                "--password",
                "long enough pw",
            ]
        )
    )
    assert "as admin (every inbox)" in out and "/invite/" not in out
    user = db.session.execute(select(User).where(User.email == "ann@acme.test")).scalar_one()
    assert verify_password(user.password_hash, "long enough pw")


def test_user_add_existing_account_is_invited_not_attached(runner, ws):
    other = f.make_workspace()
    person = f.make_user(other, email="known@acme.test")
    out = ok(runner.invoke(args=["user", "add", "acme", person.email, "--role", "agent"]))
    assert "logs in to accept" in out and "/invite/" in out
    assert db.session.scalar(select(Membership).where(Membership.workspace_id == ws.id)) is None
    # Nor may the operator overwrite the password of an account someone already has.
    assert_error(
        runner.invoke(
            args=["user", "add", "acme", person.email, "--role", "agent", "--password", "x" * 12]
        ),
        "already has a Deskwoot account",
    )
    assert verify_password(db.session.get(User, person.id).password_hash, f.PASSWORD)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bad-email", "--role", "agent"], "valid email"),
        (["a@acme.test", "--role", "boss"], "Role must be one of"),
        (["a@acme.test", "--role", "agent", "--inbox", "Nope"], "No inbox called 'Nope'"),
        (["a@acme.test", "--role", "agent", "--password", "short"], "10 characters"),
    ],
)
def test_user_add_rejects_bad_input(runner, ws, args, message):
    assert_error(runner.invoke(args=["user", "add", "acme", *args]), message)
    assert db.session.scalar(select(func.count()).select_from(Membership)) == 0


def test_user_add_twice_is_a_conflict(runner, ws):
    ok(runner.invoke(args=["user", "add", "acme", "a@acme.test", "--role", "agent"]))
    assert_error(
        runner.invoke(args=["user", "add", "acme", "a@acme.test", "--role", "agent"]),
        "already been invited",
    )
    args = ["user", "add", "acme", "b@acme.test", "--role", "agent", "--password", "x" * 12]
    ok(runner.invoke(args=args))
    assert_error(
        runner.invoke(args=["user", "add", "acme", "b@acme.test", "--role", "agent"]),
        "already on this team",
    )


def test_user_role_promotes_and_demotes_but_keeps_the_last_admin(runner, ws):
    admin = f.make_user(ws, role="admin", email="boss@acme.test")
    agent = f.make_user(ws, role="agent", email="agent@acme.test")
    out = ok(runner.invoke(args=["user", "role", "acme", "Agent@Acme.test", "admin"]))
    assert "agent@acme.test is now an admin in 'acme'." in out
    ok(runner.invoke(args=["user", "role", "acme", "boss@acme.test", "agent"]))
    assert_error(
        runner.invoke(args=["user", "role", "acme", "agent@acme.test", "agent"]),
        "A workspace needs at least one admin.",
    )
    roles = dict(
        db.session.execute(
            select(Membership.user_id, Membership.role).where(Membership.workspace_id == ws.id)
        ).all()
    )
    assert roles == {admin.id: "agent", agent.id: "admin"}
    changes = db.session.scalars(
        select(AuditEntry.detail).where(AuditEntry.action == "team.role_changed")
    ).all()
    assert changes == ["role=admin", "role=agent"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["acme", "nobody@acme.test", "admin"], "not on this team"),
        (["acme", "stranger@acme.test", "admin"], "not on this team"),
        (["acme", "boss@acme.test", "owner"], "Role must be one of"),
        (["nope", "boss@acme.test", "admin"], "No workspace with slug 'nope'."),
    ],
)
def test_user_role_rejects_bad_input(runner, ws, args, message):
    f.make_user(ws, role="admin", email="boss@acme.test")
    f.make_user(f.make_workspace(), email="stranger@acme.test")  # elsewhere, not in acme
    assert_error(runner.invoke(args=["user", "role", *args]), message)


def test_user_reset_link_prints_a_working_link_alone_on_the_last_line(app, runner, ws):
    person = f.make_user(ws, email="rita@acme.test")
    stale = auth.authenticate(person.email, f.PASSWORD)
    result = runner.invoke(args=["user", "reset-link", "Rita@Acme.test"])
    ok(result)
    link = last_line(result)
    assert link.startswith("http://localhost/set-password/") and " " not in link
    data = {"new_password": "rita's new pw", "confirm": "rita's new pw"}
    assert (
        app.test_client().post(link.removeprefix("http://localhost"), data=data).status_code == 302
    )
    assert verify_password(db.session.get(User, person.id).password_hash, "rita's new pw")
    assert auth.load_user(stale.session_id) is None  # every old session ended


def test_user_reset_link_for_an_unknown_email_is_one_clear_line(runner, ws):
    assert_error(runner.invoke(args=["user", "reset-link", "ghost@acme.test"]), "No account")
