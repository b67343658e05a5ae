"""The console script and `deskwoot db|demo|prune|serve`, through the Flask CLI runner."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from deskwoot import create_app
from deskwoot.cli import main
from deskwoot.database import migrate
from deskwoot.extensions import db
from deskwoot.models import Workspace
from deskwoot.services.operations import demo
from tests import factories as f
from tests.cli.helpers import assert_error, ok

COMMANDS = ("db", "workspace", "plan", "trial", "inbox", "user", "mcp", "demo", "prune", "serve")


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
