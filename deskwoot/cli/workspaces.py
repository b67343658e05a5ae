"""Workspaces, plans and trials, inboxes and people."""

from __future__ import annotations

from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup

from deskwoot import policy
from deskwoot.channels.email import probes
from deskwoot.cli.common import (
    days,
    inbox_named,
    inbox_option,
    inboxes_by_name,
    operation,
    password_link,
    plan_line,
    table,
    trial_state,
    when,
    workspace_actor,
)
from deskwoot.cli.common import mcp_state as mcp_state_of
from deskwoot.models.workspace import PLANS
from deskwoot.services.access import logins as auth
from deskwoot.services.directory import inboxes, invitations, workspaces

CURL_EXAMPLE = """\
  curl -X POST {url} \\
    -H "Authorization: Bearer $INBOX_SECRET" -H "Content-Type: application/json" \\
    -d '{{"contact": {{"email": "jane@example.com", "name": "Jane"}}, "content": "Hello!"}}'"""


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
@operation
def workspace_create(name, admin_email, admin_password, admin_name, plan, slug) -> None:
    """Create a workspace (7-day Enterprise trial by default) and its first admin."""
    ws, admin = workspaces.create_workspace(
        name,
        admin_email,
        admin_password,
        admin_name=admin_name,
        plan=plan.strip().lower(),
        slug=slug,
    )
    click.echo(f"Created workspace '{ws.name}' (slug: {ws.slug}).")
    click.echo(plan_line(ws))
    click.echo(f"Admin: {admin.email}")
    if not admin_password:
        password_link(policy.system_actor(ws), admin)


@workspace_group.command("list")
@operation
def workspace_list() -> None:
    """List every workspace with its plan, trial, MCP state and team size."""
    rows = []
    for ws in workspaces.list_all():
        members = len(workspaces.team(policy.system_actor(ws)))
        rows.append([ws.slug, ws.name, ws.plan, trial_state(ws), mcp_state_of(ws), str(members)])
    if not rows:
        click.echo("No workspaces yet: `deskwoot workspace create` or `deskwoot demo seed`.")
        return
    table(["SLUG", "NAME", "PLAN", "TRIAL", "MCP", "MEMBERS"], rows)


@click.group("plan", cls=AppGroup)
def plan_group() -> None:
    """Change a workspace's plan (there is no payment processing)."""


@plan_group.command("set")
@click.argument("workspace")
@click.argument("plan", metavar="PLAN")
@operation
def plan_set(workspace: str, plan: str) -> None:
    """Put WORKSPACE on PLAN: trial, starter, business or enterprise."""
    _, actor = workspace_actor(workspace)
    ws = workspaces.set_plan(actor, plan.strip().lower())
    click.echo(f"Workspace '{ws.slug}' is now on the {ws.plan} plan.")
    lock = policy.mcp_lock_reason(ws)
    if lock == "trial_expired":
        click.echo(
            "The trial has ended, so MCP and the REST API are locked; "
            "extend it with `deskwoot trial set`."
        )
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
@operation
def trial_set(workspace: str, ends_at: str) -> None:
    """Move the end of WORKSPACE's trial."""
    moment = _parse_moment(ends_at, "--ends-at")
    _, actor = workspace_actor(workspace)
    ws = workspaces.set_trial_end(actor, moment)
    click.echo(f"Trial for '{ws.slug}' now ends {when(ws.trial_ends_at)}.")
    if ws.plan == "trial":
        click.echo(f"Trial state: {trial_state(ws)}.")
    else:
        click.echo(
            f"Note: '{ws.slug}' is on the {ws.plan} plan; the trial end only matters "
            "on the trial plan."
        )


# --- inboxes and people --------------------------------------------------------------------


@click.group("inbox", cls=AppGroup)
def inbox_group() -> None:
    """Create inboxes and configure how their replies leave (email servers, webhooks)."""


def address_option(help_text: str):
    return click.option("--address", metavar="ADDR", help=help_text)


# The mail server options of `inbox create` and `inbox email`.
smtp_option = click.option(
    "--smtp-url",
    metavar="URL",
    help="smtps://USER:PASSWORD@HOST:465 or smtp://USER:PASSWORD@HOST:587 (STARTTLS).",
)
imap_option = click.option(
    "--imap-url",
    metavar="URL",
    help="imaps://USER:PASSWORD@HOST:993/FOLDER: the mailbox the worker polls.",
)


def print_email_settings(inbox) -> None:
    """An email inbox's settings, passwords masked (they are never printed back)."""
    shown = inboxes.shown_email_settings(inbox)
    for label, value, column in (
        ("Address", shown.address, "address"),
        ("SMTP", shown.smtp_url, "smtp_url"),
        ("IMAP", shown.imap_url, "imap_url"),
    ):
        if column in shown.unreadable:
            value = "(unreadable with this SECRET_KEY: set it again)"
        click.echo(f"{label}: {value or '(not set)'}")


@inbox_group.command("create")
@click.argument("workspace")
@click.argument("name")
@click.option("--channel", default="api", show_default=True, help="api, email or web.")
@click.option(
    "--webhook-url",
    metavar="URL",
    help="API inboxes: POST each reply here, signed (prints the signing secret once).",
)
@address_option("Email inboxes: the address customers write to; replies are sent from it.")
@smtp_option
@imap_option
@operation
def inbox_create(
    workspace: str,
    name: str,
    channel: str,
    webhook_url: str | None,
    address: str | None,
    smtp_url: str | None,
    imap_url: str | None,
) -> None:
    """Create an inbox; prints its inbound URL and secret (shown only this once)."""
    _, actor = workspace_actor(workspace)
    inbox, secret = inboxes.create_inbox(
        actor,
        name,
        channel.strip().lower(),
        webhook_url=webhook_url,
        email_address=address,
        smtp_url=smtp_url,
        imap_url=imap_url,
    )
    url = inboxes.inbound_url(current_app.config["PUBLIC_URL"], inbox)
    click.echo(f"Created inbox '{inbox.name}' in '{workspace}' (channel: {inbox.channel}).")
    if inbox.channel == "email":
        print_email_settings(inbox)
    click.echo(f"Inbound URL: {url}")
    click.echo("Post a customer message (INBOX_SECRET is the secret below):")
    click.echo(CURL_EXAMPLE.format(url=url))
    click.echo("Inbound secret (shown once, store it now):")
    click.echo(secret)
    if inbox.webhook_url:
        click.echo(f"Replies are POSTed to {inbox.webhook_url}, signed per Standard Webhooks.")
        click.echo("Webhook signing secret (shown once, store it now):")
        click.echo(inboxes.webhook_secret_of(inbox))


@inbox_group.command("email")
@click.argument("workspace")
@click.argument("inbox_name", metavar="INBOX")
@address_option("The address customers write to; replies are sent from it.")
@smtp_option
@imap_option
@click.option("--clear-imap", is_flag=True, help="Stop polling: forget the IMAP mailbox.")
@operation
def inbox_email(workspace, inbox_name, address, smtp_url, imap_url, clear_imap) -> None:
    """Change an email inbox's address and servers (options left out keep their value;
    an empty value, e.g. --smtp-url '', clears it)."""
    if clear_imap and imap_url:
        raise click.ClickException("Give --imap-url or --clear-imap, not both.")
    _, actor = workspace_actor(workspace)
    inbox = inbox_named(actor, workspace, inbox_name)
    keep = inboxes.KEEP
    inbox, changes = inboxes.configure_email(
        actor,
        inbox.id,
        address=keep if address is None else address,
        smtp_url=keep if smtp_url is None else smtp_url,
        imap_url="" if clear_imap else keep if imap_url is None else imap_url,
    )
    click.echo(f"{inbox.name}: {', '.join(changes) if changes else 'nothing changed'}.")
    print_email_settings(inbox)


@inbox_group.command("webhook")
@click.argument("workspace")
@click.argument("inbox_name", metavar="INBOX")
@click.option("--url", metavar="URL", help="POST each reply here (http:// or https://).")
@click.option("--clear", is_flag=True, help="No webhook: replies are read from the events feed.")
@click.option("--rotate-secret", is_flag=True, help="Issue a new signing secret.")
@operation
def inbox_webhook(workspace, inbox_name, url, clear, rotate_secret) -> None:
    """Set, change or clear an API inbox's webhook, or rotate its signing secret. A new
    secret is printed once, alone on the last line."""
    if sum((url is not None, clear, rotate_secret)) != 1:
        raise click.ClickException("Give exactly one of --url URL, --clear or --rotate-secret.")
    _, actor = workspace_actor(workspace)
    inbox = inbox_named(actor, workspace, inbox_name)
    if rotate_secret:
        secret = inboxes.rotate_webhook_secret(actor, inbox.id)
        click.echo(f"New signing secret for '{inbox.name}'; the old one no longer signs.")
    else:
        secret = inboxes.configure_webhook(actor, inbox.id, "" if clear else url)
        if inbox.webhook_url:
            where = inboxes.masked_url(inbox.webhook_url)
            click.echo(f"Replies in '{inbox.name}' are POSTed to {where}, signed.")
        else:
            click.echo(f"'{inbox.name}' has no webhook: replies are read from the events feed.")
    if secret:
        click.echo("Webhook signing secret (shown once, store it now):")
        click.echo(secret)


@inbox_group.command("test")
@click.argument("workspace")
@click.argument("inbox_name", metavar="INBOX")
@click.option("--to", metavar="ADDR", help="Where the test mail goes (default: the inbox).")
@operation
def inbox_test(workspace: str, inbox_name: str, to: str | None) -> None:
    """Send a test mail through the inbox's SMTP server and log in to its IMAP mailbox.
    Exit 0 when every configured check passes, 1 with one line per failure."""
    _, actor = workspace_actor(workspace)
    inbox, settings = inboxes.settings_to_test(actor, inbox_named(actor, workspace, inbox_name).id)
    timeout = current_app.config["MAIL_TIMEOUT"]
    results = []
    if settings.smtp_url:
        probe = probes.send_test(
            settings.smtp_url,
            inbox_address=settings.address,
            inbox_name=inbox.name,
            to_address=(to or settings.address or "").strip(),
            timeout=timeout,
        )
        results.append(("SMTP", probe))
    if settings.imap_url:
        results.append(("IMAP", probes.check_mailbox(settings.imap_url, timeout)))
    if not results:
        raise click.ClickException(
            f"'{inbox.name}' has no SMTP server or IMAP mailbox to test: "
            f"set them with `deskwoot inbox email {workspace} ...`."
        )
    for what, probe in results:
        if probe.ok:
            click.echo(f"{what}: {probe.message}")
    failures = [f"{what}: {probe.message}" for what, probe in results if not probe.ok]
    for line in failures:
        click.echo(f"Error: {line}", err=True)
    if failures:
        click.get_current_context().exit(1)


@click.group("user", cls=AppGroup)
def user_group() -> None:
    """Invite people to workspaces, change their roles, reset passwords."""


@user_group.command("add")
@click.argument("workspace")
@click.argument("email")
@click.option("--role", required=True, help="agent (sees their inboxes) or admin (sees all).")
@click.option("--name", help="Display name, with --password (default: from the email).")
@click.option(
    "--password",
    help="Create the account with this password at once. Omit to print a one-time "
    "invitation link instead.",
)
@inbox_option("An inbox they work (repeat for several).")
@operation
def user_add(workspace, email, role, name, password, inbox_names) -> None:
    """Invite EMAIL to WORKSPACE, or with --password create their account right away."""
    _, actor = workspace_actor(workspace)
    role = role.strip().lower()
    chosen = inboxes_by_name(actor, workspace, inbox_names)
    inbox_ids = [i.id for i in chosen]
    if role == "admin":
        reach = "every inbox"
    else:
        reach = ", ".join(inbox.name for inbox in chosen) or "no inboxes yet"
    if password:
        user = workspaces.add_teammate(
            actor, email, role, name=name, password=password, inbox_ids=inbox_ids
        )
        click.echo(f"Added {user.email} to '{workspace}' as {role} ({reach}).")
        return
    issued = invitations.invite(actor, email, role, inbox_ids=inbox_ids)
    email = issued.invitation.email
    click.echo(f"Invited {email} to '{workspace}' as {role} ({reach}).")
    click.echo(
        "Someone new sets up their account with the link; someone with an account logs in "
        "to accept."
    )
    if issued.emailed:
        click.echo(f"The invitation was emailed to {email}.")
    click.echo(f"Invitation link (one-time, valid {days(invitations.INVITATION_DAYS)}):")
    click.echo(issued.url)


@user_group.command("role")
@click.argument("workspace")
@click.argument("email")
@click.argument("role", metavar="admin|agent")
@operation
def user_role(workspace: str, email: str, role: str) -> None:
    """Make the teammate EMAIL of WORKSPACE an admin or an agent (the last admin stays)."""
    _, actor = workspace_actor(workspace)
    user = workspaces.member_by_email(actor, email)
    role = role.strip().lower()
    workspaces.set_role(actor, user.id, role)
    click.echo(
        f"{user.email} is now {'an admin' if role == 'admin' else 'an agent'} in '{workspace}'."
    )


@user_group.command("reset-link")
@click.argument("email")
@operation
def user_reset_link(email: str) -> None:
    """Print a one-time link for EMAIL to choose a new password (works without outgoing mail).

    Setting a password with it logs that account out everywhere. The link is the last line.
    """
    url = auth.reset_link(email)
    click.echo(
        f"Password reset link for {email.strip().lower()} "
        f"(one-time, valid {auth.RESET_LINK_MINUTES} minutes):"
    )
    click.echo(url)
