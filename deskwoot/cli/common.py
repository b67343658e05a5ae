"""Plumbing shared by the command modules: error reporting, workspace lookup, formatting."""

from __future__ import annotations

import functools
from datetime import datetime

import click
from flask import current_app
from sqlalchemy.exc import OperationalError

from deskwoot import policy
from deskwoot.database import migrate
from deskwoot.errors import Conflict, NotFound, ServiceError
from deskwoot.models import Inbox, Workspace
from deskwoot.services.access import logins as auth
from deskwoot.services.directory import inboxes, workspaces

NOT_MIGRATED = "The database schema is not up to date. Run `deskwoot db upgrade` first."


def errors(f):
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


def operation(f):
    """Run a command against a migrated database, with `errors` reporting."""

    @errors
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        if not migrate.is_current():
            raise click.ClickException(NOT_MIGRATED)
        return f(*args, **kwargs)

    return wrapper


def workspace_actor(slug: str) -> tuple[Workspace, policy.Actor]:
    """The workspace named by its slug, and the operator acting in it."""
    ws = workspaces.get_by_slug(slug)
    return ws, policy.system_actor(ws)


def inbox_option(help_text: str):
    """`--inbox NAME`, repeatable: the command receives the names as `inbox_names` and resolves
    them with `inboxes_by_name` (inside `operation`, which checks the database first)."""
    return click.option("--inbox", "inbox_names", multiple=True, metavar="NAME", help=help_text)


def inboxes_by_name(actor: policy.Actor, slug: str, names: tuple[str, ...]) -> list[Inbox]:
    """Inboxes named with `--inbox` (exact name first, then case-insensitive)."""
    known = inboxes.list_inboxes(actor)
    chosen: list[Inbox] = []
    for wanted in names:
        wanted = wanted.strip()
        inbox = next((i for i in known if i.name == wanted), None) or next(
            (i for i in known if i.name.lower() == wanted.lower()), None
        )
        if inbox is None:
            listing = ", ".join(i.name for i in known) or "none yet"
            raise NotFound(f"No inbox called '{wanted}' in '{slug}' (inboxes: {listing}).")
        if inbox not in chosen:
            chosen.append(inbox)
    return chosen


def inbox_named(actor: policy.Actor, slug: str, name: str) -> Inbox:
    """The inbox an INBOX argument names (as `--inbox` does)."""
    return inboxes_by_name(actor, slug, (name,))[0]


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def days(n: int) -> str:
    return f"{n} day{'' if n == 1 else 's'}"


def trial_state(ws: Workspace) -> str:
    if ws.plan != "trial":
        return "-"
    left = workspaces.trial_days_left(ws)
    return f"{days(left)} left" if left else f"ended {when(ws.trial_ends_at)}"


def mcp_state(ws: Workspace) -> str:
    """MCP on/off, and whether the plan currently locks it (ARCHITECTURE §3)."""
    if policy.mcp_lock_reason(ws) is None:
        return "on" if ws.mcp_enabled else "off"
    return "on (locked by plan)" if ws.mcp_enabled else "off (locked by plan)"


def plan_line(ws: Workspace) -> str:
    if ws.plan == "trial":
        return f"Plan: trial (Enterprise trial until {when(ws.trial_ends_at)}, {trial_state(ws)})"
    return f"Plan: {ws.plan}"


def lock_message(ws: Workspace) -> str | None:
    """What locks MCP on this workspace's plan and the command that unlocks it, or None."""
    lock = policy.mcp_lock_reason(ws)
    if lock == "trial_expired":
        return (
            f"The trial of '{ws.slug}' has ended, so MCP is locked: "
            f"`deskwoot plan set {ws.slug} enterprise` (or `deskwoot trial set`) unlocks it."
        )
    if lock == "plan_required":
        return (
            f"MCP needs the enterprise plan ('{ws.slug}' is on {ws.plan}): "
            f"`deskwoot plan set {ws.slug} enterprise` unlocks it."
        )
    return None


def password_link(actor: policy.Actor, user) -> None:
    """Print a one-time set-password link for someone who has no password yet."""
    if user.password_hash is not None:
        click.echo(f"{user.email} already has a password and logs in with it.")
        return
    try:
        token = workspaces.password_link(actor, user.id)
    except Conflict as exc:
        click.echo(f"No set-password link: {exc.message}")
        return
    click.echo(
        f"Set-password link for {user.email} (one-time, valid {days(auth.PASSWORD_LINK_DAYS)}):"
    )
    click.echo(f"{current_app.config['PUBLIC_URL']}/set-password/{token}")


def table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, ["-" * w for w in widths], *rows]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
