"""The `deskwoot` command line (DESIGN §10): thin adapters over the services.

Every command acts as the operator (`policy.system_actor`) through the same service functions
the web and MCP adapters call. Errors are one `Error: …` line on stderr and exit status 1.
"""

from __future__ import annotations

import functools
import os
import sys
from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from deskwoot import config, migrate, policy
from deskwoot.errors import Conflict, NotFound, ServiceError
from deskwoot.extensions import db
from deskwoot.models import Workspace
from deskwoot.models.workspace import PLANS
from deskwoot.services import auth, demo, inboxes, maintenance, workspaces

CURL_EXAMPLE = """\
  curl -X POST {url} \\
    -H "Authorization: Bearer $INBOX_SECRET" -H "Content-Type: application/json" \\
    -d '{{"contact": {{"email": "jane@example.com", "name": "Jane"}}, "content": "Hello!"}}'"""
NOT_MIGRATED = "The database schema is not up to date. Run `deskwoot db upgrade` first."


def init_app(app) -> None:
    """Register the operator commands on app.cli (and so on the `deskwoot` script)."""
    for command in (db_group, workspace_group, plan_group, trial_group, inbox_group,
                    user_group, demo_group, prune, serve):
        app.cli.add_command(command)


def _create_app():
    from deskwoot import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False)
def main() -> None:
    """Operate a Deskwoot installation."""


# --- plumbing ------------------------------------------------------------------------------


def _errors(f):
    """Turn service and database errors into one `Error:` line and exit status 1."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except ServiceError as exc:
            raise click.ClickException(exc.message) from exc
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unreachable"
            raise click.ClickException(f"Database error: {reason}") from exc

    return wrapper


def _operation(f):
    """Run a command against a migrated database, with `_errors` reporting."""

    @_errors
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        if not migrate.is_current():
            raise click.ClickException(NOT_MIGRATED)
        return f(*args, **kwargs)

    return wrapper


def _workspace(slug: str) -> tuple[Workspace, policy.Actor]:
    ws = workspaces.get_by_slug(slug)
    return ws, policy.system_actor(ws)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def _days(n: int) -> str:
    return f"{n} day{'' if n == 1 else 's'}"


def _trial_state(ws: Workspace) -> str:
    if ws.plan != "trial":
        return "-"
    left = workspaces.trial_days_left(ws)
    return f"{_days(left)} left" if left else f"ended {_when(ws.trial_ends_at)}"


def _mcp_state(ws: Workspace) -> str:
    """MCP on/off, and whether the plan currently locks it (DESIGN §5.4)."""
    if policy.mcp_lock_reason(ws) is None:
        return "on" if ws.mcp_enabled else "off"
    return "on (locked by plan)" if ws.mcp_enabled else "off (locked by plan)"


def _plan_line(ws: Workspace) -> str:
    if ws.plan == "trial":
        return f"Plan: trial (Enterprise trial until {_when(ws.trial_ends_at)}, {_trial_state(ws)})"
    return f"Plan: {ws.plan}"


def _password_link(actor: policy.Actor, user) -> None:
    """Print a one-time set-password link for someone who has no password yet."""
    if user.password_hash is not None:
        click.echo(f"{user.email} already has a password and logs in with it.")
        return
    try:
        token = workspaces.password_link(actor, user.id)
    except Conflict as exc:
        click.echo(f"No set-password link: {exc.message}")
        return
    click.echo(f"Set-password link for {user.email} (one-time, valid "
               f"{_days(auth.PASSWORD_LINK_DAYS)}):")
    click.echo(f"{current_app.config['PUBLIC_URL']}/set-password/{token}")


def _table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, ["-" * w for w in widths], *rows]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


# --- db ------------------------------------------------------------------------------------


@click.group("db", cls=AppGroup)
def db_group() -> None:
    """Manage the database schema."""


@db_group.command("upgrade")
@_errors
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
@_errors
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


# --- workspaces and plans ------------------------------------------------------------------


@click.group("workspace", cls=AppGroup)
def workspace_group() -> None:
    """Create and list workspaces."""


@workspace_group.command("create")
@click.argument("name")
@click.option("--admin-email", required=True, help="The first admin's email.")
@click.option("--admin-password", help="Omit to print a one-time set-password link.")
@click.option("--admin-name", help="The admin's display name.")
@click.option("--plan", default="trial", show_default=True, help=" | ".join(PLANS))
@click.option("--slug", help="URL name (default: derived from NAME).")
@_operation
def workspace_create(name, admin_email, admin_password, admin_name, plan, slug) -> None:
    """Create a workspace (7-day Enterprise trial by default) and its first admin."""
    ws, admin = workspaces.create_workspace(
        name, admin_email, admin_password, admin_name=admin_name, plan=plan.strip().lower(),
        slug=slug,
    )
    click.echo(f"Created workspace '{ws.name}' (slug: {ws.slug}).")
    click.echo(_plan_line(ws))
    click.echo(f"Admin: {admin.email}")
    if not admin_password:
        _password_link(policy.system_actor(ws), admin)


@workspace_group.command("list")
@_operation
def workspace_list() -> None:
    """List every workspace with its plan, trial, MCP state and team size."""
    rows = []
    for ws in workspaces.list_all():
        members = len(workspaces.team(policy.system_actor(ws)))
        rows.append([ws.slug, ws.name, ws.plan, _trial_state(ws), _mcp_state(ws), str(members)])
    if not rows:
        click.echo("No workspaces yet: `deskwoot workspace create` or `deskwoot demo seed`.")
        return
    _table(["SLUG", "NAME", "PLAN", "TRIAL", "MCP", "MEMBERS"], rows)


@click.group("plan", cls=AppGroup)
def plan_group() -> None:
    """Change a workspace's plan (there is no payment processing)."""


@plan_group.command("set")
@click.argument("workspace")
@click.argument("plan", metavar="PLAN")
@_operation
def plan_set(workspace: str, plan: str) -> None:
    """Put WORKSPACE on PLAN: trial, starter, business or enterprise."""
    _, actor = _workspace(workspace)
    ws = workspaces.set_plan(actor, plan.strip().lower())
    click.echo(f"Workspace '{ws.slug}' is now on the {ws.plan} plan.")
    lock = policy.mcp_lock_reason(ws)
    if lock == "trial_expired":
        click.echo("The trial has ended, so MCP and the REST API are locked; "
                   "extend it with `deskwoot trial set`.")
    elif lock == "plan_required":
        click.echo("MCP and the REST API need the enterprise plan (or an active trial).")


@click.group("trial", cls=AppGroup)
def trial_group() -> None:
    """Change when a workspace's trial ends."""


def _parse_moment(value: str, option: str) -> datetime:
    example = "e.g. 2026-12-01T00:00:00Z"
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.ClickException(
            f"{option}: '{value}' is not an ISO 8601 time ({example})."
        ) from None
    if moment.tzinfo is None:
        raise click.ClickException(f"{option} needs a timezone ({example} or +02:00).")
    return moment


@trial_group.command("set")
@click.argument("workspace")
@click.option("--ends-at", required=True, help="ISO 8601 with a timezone, e.g. 2026-12-01T00:00Z.")
@_operation
def trial_set(workspace: str, ends_at: str) -> None:
    """Move the end of WORKSPACE's trial."""
    moment = _parse_moment(ends_at, "--ends-at")
    _, actor = _workspace(workspace)
    ws = workspaces.set_trial_end(actor, moment)
    click.echo(f"Trial for '{ws.slug}' now ends {_when(ws.trial_ends_at)}.")
    if ws.plan == "trial":
        click.echo(f"Trial state: {_trial_state(ws)}.")
    else:
        click.echo(f"Note: '{ws.slug}' is on the {ws.plan} plan; the trial end only matters "
                   "on the trial plan.")


# --- inboxes and people --------------------------------------------------------------------


@click.group("inbox", cls=AppGroup)
def inbox_group() -> None:
    """Create inboxes."""


@inbox_group.command("create")
@click.argument("workspace")
@click.argument("name")
@click.option("--channel", default="api", show_default=True, help="api, email or web.")
@_operation
def inbox_create(workspace: str, name: str, channel: str) -> None:
    """Create an inbox; prints its inbound URL and secret (shown only this once)."""
    _, actor = _workspace(workspace)
    inbox, secret = inboxes.create_inbox(actor, name, channel.strip().lower())
    url = inboxes.inbound_url(current_app.config["PUBLIC_URL"], inbox)
    click.echo(f"Created inbox '{inbox.name}' in '{workspace}' (channel: {inbox.channel}).")
    click.echo(f"Inbound URL: {url}")
    click.echo("Post a customer message (INBOX_SECRET is the secret below):")
    click.echo(CURL_EXAMPLE.format(url=url))
    click.echo("Inbound secret (shown once, store it now):")
    click.echo(secret)


@click.group("user", cls=AppGroup)
def user_group() -> None:
    """Add people to workspaces."""


@user_group.command("add")
@click.argument("workspace")
@click.argument("email")
@click.option("--role", required=True, help="agent (sees their inboxes) or admin (sees all).")
@click.option("--name", help="Display name (default: from the email).")
@click.option("--password", help="Omit to print a one-time set-password link.")
@click.option("--inbox", "inbox_names", multiple=True, metavar="NAME",
              help="An inbox they work (repeat for several).")
@_operation
def user_add(workspace, email, role, name, password, inbox_names) -> None:
    """Add a teammate to WORKSPACE, creating their account if needed."""
    _, actor = _workspace(workspace)
    role = role.strip().lower()
    known = inboxes.list_inboxes(actor)
    chosen = []
    for wanted in inbox_names:
        wanted = wanted.strip()
        inbox = next((i for i in known if i.name == wanted), None) or next(
            (i for i in known if i.name.lower() == wanted.lower()), None
        )
        if inbox is None:
            names = ", ".join(i.name for i in known) or "none yet"
            raise NotFound(f"No inbox called '{wanted}' in '{workspace}' (inboxes: {names}).")
        if inbox not in chosen:
            chosen.append(inbox)
    user = workspaces.add_teammate(
        actor, email, role, name=name, password=password, inbox_ids=[i.id for i in chosen]
    )
    if role == "admin":
        reach = "every inbox"
    else:
        reach = ", ".join(inbox.name for inbox in chosen) or "no inboxes yet"
    click.echo(f"Added {user.email} to '{workspace}' as {role} ({reach}).")
    if not password:
        _password_link(actor, user)


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
@_operation
def demo_seed() -> None:
    """Create the demo workspace with inboxes, contacts and conversations (once)."""
    info = demo.seed_demo()
    if info.created:
        click.echo(f"Seeded the demo workspace '{info.slug}': {len(demo.INBOXES)} inboxes, "
                   f"{len(demo.CONTACTS)} contacts, {info.conversations} conversations.")
    else:
        click.echo(f"The demo workspace '{info.slug}' already exists; nothing to do.")
    for line in _demo_login_lines(info):
        click.echo(line)


@click.command("prune")
@click.option("--events-older-than", "days", type=int, metavar="DAYS",
              help="Delete events older than DAYS (default: EVENT_RETENTION_DAYS, 30).")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@with_appcontext
@_operation
def prune(days: int | None, dry_run: bool) -> None:
    """Delete expired idempotency keys, old events, ended sessions and spent links."""
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
@click.option("--workers", type=click.IntRange(min=1),
              help="gunicorn workers (default: 2 per CPU core, at most 4).")
@with_appcontext
@_errors
def serve(host: str, port: int, workers: int | None) -> None:
    """Migrate, seed the demo on an empty database, then serve with gunicorn."""
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
    database = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).render_as_string(
        hide_password=True
    )
    lines = [f"Deskwoot is starting on {local_url}", f"Database: {database}"]
    if url != local_url:
        lines.insert(1, f"Public URL: {url}")
    if not workspaces.list_all():
        info = demo.seed_demo()
        lines += ["", "First run: seeded a demo workspace.", *_demo_login_lines(info)]
    elif demo.exists():
        lines += ["", f"Demo workspace: log in at {url}/login as {demo.ADMIN_EMAIL}",
                  f"(password '{demo.PASSWORD}' unless you changed it)."]
    click.echo(_box(lines))
    bind = f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
    argv = [
        sys.executable, "-m", "gunicorn",
        "--workers", str(workers or _default_workers()),
        "--bind", bind,
        "--access-logfile", "-",
        "deskwoot.wsgi:create()",
    ]
    sys.stdout.flush()
    db.session.remove()
    db.engine.dispose()
    os.execv(sys.executable, argv)  # noqa: S606 - replace this process with gunicorn
