"""The `deskwoot` operator commands, through the Flask CLI runner (DESIGN §10)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from deskwoot import create_app
from deskwoot.cli import main
from deskwoot.database import migrate
from deskwoot.extensions import db
from deskwoot.models import AuditEntry, Inbox, InboxMember, Membership, User, Workspace, utcnow
from deskwoot.services.access import logins as auth
from deskwoot.services.access.password_hashing import verify_password
from deskwoot.services.directory import inboxes
from deskwoot.services.operations import demo
from tests import factories as f

COMMANDS = ("db", "workspace", "plan", "trial", "inbox", "user", "mcp", "demo", "prune", "serve")


def ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def assert_error(result, text: str) -> None:
    """The command failed with exactly one `Error:` line on stderr."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and text in lines[0], lines[0]
    assert "Traceback" not in result.output


def last_line(result) -> str:
    return result.stdout.strip().splitlines()[-1]


def workspace(slug: str) -> Workspace:
    return db.session.execute(select(Workspace).where(Workspace.slug == slug)).scalar_one()


@pytest.fixture
def ws(app):
    return f.make_workspace(name="Acme", slug="acme")


@pytest.fixture
def empty_app(tmp_path):
    """An app on a brand-new, unmigrated database: what `serve` finds on a fresh machine."""
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "fresh.sqlite3"),
            "SECRET_KEY": "test",
            "PUBLIC_URL": "http://localhost",
        }
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


# --- the console script --------------------------------------------------------------------


def test_console_script_exposes_every_command(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///" + str(tmp_path / "script.sqlite3"))
    monkeypatch.setenv("DESKWOOT_SECRET_KEY", "test")
    runner = CliRunner()
    help_text = ok(runner.invoke(main, ["--help"]))
    for name in COMMANDS:
        assert f"\n  {name} " in help_text
    assert "upgraded: empty -> " in ok(runner.invoke(main, ["db", "upgrade"]))
    assert "No workspaces yet" in ok(runner.invoke(main, ["workspace", "list"]))


# --- db ------------------------------------------------------------------------------------


def test_db_current_and_upgrade_on_a_migrated_database(runner):
    out = ok(runner.invoke(args=["db", "current", "--check"]))
    assert f"Current revision: {migrate.head_revision()}" in out and "Up to date." in out
    assert "already up to date" in ok(runner.invoke(args=["db", "upgrade"]))


def test_db_upgrade_migrates_an_empty_database(empty_app):
    runner = empty_app.test_cli_runner()
    result = runner.invoke(args=["db", "current", "--check"])
    assert result.exit_code == 1 and "upgrade is pending" in result.stdout
    assert_error(runner.invoke(args=["workspace", "list"]), "deskwoot db upgrade")
    ok(runner.invoke(args=["db", "upgrade"]))
    assert migrate.is_current()
    assert "No workspaces yet" in ok(runner.invoke(args=["workspace", "list"]))


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


# --- demo, prune, serve --------------------------------------------------------------------


def test_demo_seed_twice_is_idempotent(runner):
    first = ok(runner.invoke(args=["demo", "seed"]))
    assert "Seeded the demo workspace 'demo'" in first
    assert f"admin: {demo.ADMIN_EMAIL}" in first and demo.PASSWORD in first
    counts = db.session.scalar(select(func.count()).select_from(Workspace))
    second = ok(runner.invoke(args=["demo", "seed"]))
    assert "already exists; nothing to do" in second and demo.PASSWORD in second
    assert db.session.scalar(select(func.count()).select_from(Workspace)) == counts == 1


def test_prune_reports_counts(runner, ws):
    f.make_user(ws)  # nothing old to prune yet
    out = ok(runner.invoke(args=["prune", "--dry-run"]))
    assert out.startswith("Would delete:") and "events" in out
    assert ok(runner.invoke(args=["prune", "--events-older-than", "7"])).startswith("Deleted:")
    assert_error(runner.invoke(args=["prune", "--events-older-than", "0"]), "at least one day")


@pytest.fixture
def exec_calls(monkeypatch):
    """Stand in for os.execv so `serve` returns instead of becoming gunicorn."""
    calls = []
    monkeypatch.setattr(os, "execv", lambda path, argv: calls.append((path, argv)))
    return calls


def test_serve_on_a_fresh_database_migrates_seeds_and_execs_gunicorn(empty_app, exec_calls):
    result = empty_app.test_cli_runner().invoke(
        args=["serve", "--host", "::1", "--port", "8123", "--workers", "3"]
    )
    out = ok(result)
    assert migrate.is_current() and demo.exists()
    assert "seeded a demo workspace" in out and demo.PASSWORD in out
    assert f"admin: {demo.ADMIN_EMAIL}" in out and out.splitlines()[0].startswith("+---")
    [(path, argv)] = exec_calls
    assert argv[0] == path and argv[1:3] == ["-m", "gunicorn"]
    assert argv[argv.index("--workers") + 1] == "3"
    assert argv[argv.index("--bind") + 1] == "[::1]:8123"
    assert argv[-1] == "deskwoot.wsgi:create()"


def test_serve_uses_its_port_for_links_when_no_public_url_is_set(tmp_path, exec_calls, monkeypatch):
    # Register the variable with monkeypatch so whatever `serve` sets is undone afterwards.
    monkeypatch.setenv("DESKWOOT_PUBLIC_URL", "placeholder")
    monkeypatch.delenv("DESKWOOT_PUBLIC_URL")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "s.sqlite3"),
            "SECRET_KEY": "test",
        }
    )
    with app.app_context():
        out = ok(app.test_cli_runner().invoke(args=["serve", "--port", "8124"]))
        db.session.remove()
        db.engine.dispose()
    assert "Log in at http://127.0.0.1:8124/login" in out
    assert os.environ["DESKWOOT_PUBLIC_URL"] == "http://127.0.0.1:8124"
    [(_, argv)] = exec_calls
    assert argv[argv.index("--bind") + 1] == "127.0.0.1:8124"
    assert 1 <= int(argv[argv.index("--workers") + 1]) <= 4


def test_serve_leaves_an_existing_installation_alone(runner, ws, exec_calls):
    out = ok(runner.invoke(args=["serve"]))
    assert not demo.exists() and "Demo" not in out and "seeded" not in out
    assert db.session.scalar(select(func.count()).select_from(Workspace)) == 1
    assert len(exec_calls) == 1


def test_serve_reminds_of_the_demo_login(runner, exec_calls):
    demo.seed_demo()
    out = ok(runner.invoke(args=["serve"]))
    assert f"as {demo.ADMIN_EMAIL}" in out and "unless you changed it" in out
