"""Running the installation: schema migrations, the demo workspace, housekeeping, serving."""

from __future__ import annotations

import os
import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.engine import make_url

from deskwoot import config
from deskwoot.cli.common import errors, operation
from deskwoot.database import migrate
from deskwoot.extensions import db
from deskwoot.services.directory import workspaces
from deskwoot.services.operations import demo
from deskwoot.services.operations import prune as maintenance

# --- db ------------------------------------------------------------------------------------


@click.group("db", cls=AppGroup)
def db_group() -> None:
    """Manage the database schema."""


@db_group.command("upgrade")
@errors
def db_upgrade() -> None:
    """Apply every pending migration."""
    before = migrate.current_revision()
    migrate.upgrade()
    after = migrate.current_revision()
    if before == after:
        click.echo(f"Database schema already up to date (revision {after}).")
    else:
        click.echo(f"Database schema upgraded: {before or 'empty'} -> {after}.")


@db_group.command("current")
@click.option("--check", is_flag=True, help="Exit with status 1 when an upgrade is pending.")
@errors
def db_current(check: bool) -> None:
    """Show the schema revision and whether it is up to date."""
    current, head = migrate.current_revision(), migrate.head_revision()
    click.echo(f"Current revision: {current or 'none (empty database)'}")
    click.echo(f"Latest revision:  {head}")
    if current == head:
        click.echo("Up to date.")
    else:
        click.echo("An upgrade is pending: run `deskwoot db upgrade`.")
        if check:
            sys.exit(1)


# --- demo, housekeeping, serving -----------------------------------------------------------


@click.group("demo", cls=AppGroup)
def demo_group() -> None:
    """The demo workspace."""


def _demo_login_lines(info: demo.DemoInfo) -> list[str]:
    return [
        f"Log in at {current_app.config['PUBLIC_URL']}/login",
        f"  admin: {info.admin_email}",
        f"  agent: {info.agent_email}",
        f"  password (both): {info.admin_password}",
    ]


@demo_group.command("seed")
@operation
def demo_seed() -> None:
    """Create the demo workspace with inboxes, contacts and conversations (once)."""
    info = demo.seed_demo()
    if info.created:
        click.echo(
            f"Seeded the demo workspace '{info.slug}': {len(demo.INBOXES)} inboxes, "
            f"{len(demo.CONTACTS)} contacts, {info.conversations} conversations."
        )
    else:
        click.echo(f"The demo workspace '{info.slug}' already exists; nothing to do.")
    for line in _demo_login_lines(info):
        click.echo(line)


@click.command("prune")
@click.option(
    "--events-older-than",
    "days",
    type=int,
    metavar="DAYS",
    help="Delete events older than DAYS (default: EVENT_RETENTION_DAYS, 30).",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@with_appcontext
@operation
def prune(days: int | None, dry_run: bool) -> None:
    """Delete expired idempotency keys, old events, ended sessions, spent links and dead OAuth
    codes, tokens and never-approved clients."""
    result = maintenance.prune(events_older_than_days=days, dry_run=dry_run)
    click.echo("Would delete:" if dry_run else "Deleted:")
    width = max(len(label) for label in result.counts())
    for label, count in result.counts().items():
        click.echo(f"  {label.ljust(width)}  {count}")


def _box(lines: list[str]) -> str:
    width = max(len(line) for line in lines)
    rule = "+" + "-" * (width + 2) + "+"
    return "\n".join([rule, *(f"| {line.ljust(width)} |" for line in lines), rule])


def _default_workers() -> int:
    """Two gunicorn workers per core, at most four (SQLite has a single writer anyway)."""
    return min(2 * (os.cpu_count() or 1), 4)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="gunicorn workers (default: 2 per CPU core, at most 4).",
)
@with_appcontext
@errors
def serve(host: str, port: int, workers: int | None) -> None:
    """Migrate, seed the demo on an empty database, then serve with gunicorn (and one
    delivery worker beside it)."""
    app = current_app
    migrate.upgrade()
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - every interface; show the local address
        local_url = f"http://127.0.0.1:{port}"
    else:
        local_url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    if app.config["PUBLIC_URL"] == config.DEFAULTS["PUBLIC_URL"]:
        # Not configured: links the app prints (inbound URL, MCP URL) should match this port.
        os.environ["DESKWOOT_PUBLIC_URL"] = local_url
        app.config["PUBLIC_URL"] = local_url
    url = app.config["PUBLIC_URL"]
    database = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).render_as_string(hide_password=True)
    lines = [f"Deskwoot is starting on {local_url}", f"Database: {database}"]
    if url != local_url:
        lines.insert(1, f"Public URL: {url}")
    if not workspaces.list_all():
        info = demo.seed_demo()
        lines += ["", "First run: seeded a demo workspace.", *_demo_login_lines(info)]
    elif demo.exists():
        lines += [
            "",
            f"Demo workspace: log in at {url}/login as {demo.ADMIN_EMAIL}",
            f"(password '{demo.PASSWORD}' unless you changed it).",
        ]
    click.echo(_box(lines))
    bind = f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers or _default_workers()),
        "--bind",
        bind,
        "--access-logfile",
        "-",
        "--preload",
        # The hooks in this config start one delivery worker and stop it with gunicorn.
        "--config",
        "python:deskwoot.cli.delivery",
        "deskwoot.wsgi:create()",
    ]
    sys.stdout.flush()
    db.session.remove()
    db.engine.dispose()
    os.execv(sys.executable, argv)  # noqa: S606 - replace this process with gunicorn
