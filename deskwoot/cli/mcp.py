"""The MCP server: switch it on or off, and mint, list and revoke bot tokens."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from deskwoot.cli.common import (
    days,
    inbox_option,
    inboxes_by_name,
    lock_message,
    operation,
    table,
    when,
    workspace_actor,
)
from deskwoot.errors import Invalid
from deskwoot.policy import SCOPES
from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.services.access import tokens


@click.group("mcp", cls=AppGroup)
def mcp_group() -> None:
    """The MCP server for AI agents, and its bot tokens."""


def _url() -> str:
    return mcp_settings.connection_url(current_app.config["PUBLIC_URL"])


def _switch(workspace: str, enabled: bool) -> None:
    _, actor = workspace_actor(workspace)
    ws = mcp_settings.set_enabled(actor, enabled)
    overview = mcp_settings.overview(actor)
    click.echo(f"MCP server {'enabled' if ws.mcp_enabled else 'disabled'} for '{ws.slug}'.")
    if overview.bot is not None:
        click.echo(
            f"Bot service account: {overview.bot.name} (every MCP action is attributed to it)."
        )
    if enabled:
        click.echo(f"Connection URL: {_url()}")
        lock = lock_message(ws)
        if lock:
            click.echo(f"Note: {lock}")
        elif not overview.tokens or all(tokens.status(t) != "active" for t in overview.tokens):
            click.echo(f"Next: `deskwoot mcp mint {ws.slug} --name NAME --preset drafts`.")


@mcp_group.command("enable")
@click.argument("workspace")
@operation
def mcp_enable(workspace: str) -> None:
    """Turn the MCP server on (the first time provisions the bot service account)."""
    _switch(workspace, True)


@mcp_group.command("disable")
@click.argument("workspace")
@operation
def mcp_disable(workspace: str) -> None:
    """Turn the MCP server off: every token is refused until it is enabled again."""
    _switch(workspace, False)


def _scopes(scopes: str | None, preset: str | None) -> list[str]:
    """--scopes a,b and/or --preset P (together: the preset plus the extra scopes)."""
    chosen: list[str] = []
    if preset:
        chosen += tokens.preset_scopes(preset.strip().lower())
    for scope in (scopes or "").split(","):
        scope = scope.strip()
        if scope and scope not in chosen:
            chosen.append(scope)
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown:
        raise Invalid(f"Unknown scope(s): {', '.join(unknown)}. Scopes: {', '.join(SCOPES)}.")
    if not chosen:
        raise Invalid(f"Give --scopes a,b or --preset ({' | '.join(tokens.PRESETS)}).")
    return chosen


def _inboxes(token, names: dict[int, str]) -> str:
    if not token.inbox_ids:
        return "all inboxes"
    return ", ".join(names.get(i, f"#{i} (deleted)") for i in token.inbox_ids)


def _scope_summary(token, short: bool = False) -> str:
    """The token's scopes; naming the preset when they are exactly one (only it, if short)."""
    listing = ",".join(token.scopes)
    for key, (_label, preset) in tokens.PRESETS.items():
        if sorted(preset) == sorted(token.scopes):
            return f"preset {key}" if short else f"{listing} (preset {key})"
    return listing


@mcp_group.command("mint")
@click.argument("workspace")
@click.option("--name", required=True, help='What the token is for, e.g. "OpenClaw triage bot".')
@click.option("--scopes", metavar="A,B", help="Comma-separated scopes: " + ", ".join(SCOPES))
@click.option(
    "--preset",
    metavar="PRESET",
    help=" | ".join(tokens.PRESETS) + " (with --scopes: the preset plus those).",
)
@inbox_option("Restrict the token to this inbox (repeat for several; default: all).")
@click.option(
    "--expires-in",
    "expires_in",
    type=int,
    metavar="DAYS",
    help="Expire after DAYS days (default: never).",
)
@operation
def mcp_mint(workspace, name, scopes, preset, inbox_names, expires_in) -> None:
    """Mint a bot token; prints it once, alone on the last line of stdout."""
    ws, actor = workspace_actor(workspace)
    chosen = inboxes_by_name(actor, workspace, inbox_names)
    minted = tokens.mint(
        actor,
        name,
        _scopes(scopes, preset),
        inbox_ids=[inbox.id for inbox in chosen],
        expires_in_days=expires_in,
    )
    token = minted.token
    click.echo(f"Minted token '{token.name}' ({tokens.display(token)}) in '{ws.slug}'.")
    click.echo(f"Scopes: {_scope_summary(token)}")
    click.echo(f"Inboxes: {_inboxes(token, {i.id: i.name for i in chosen})}")
    expiry = f"{when(token.expires_at)} (in {days(expires_in)})" if token.expires_at else "never"
    click.echo(f"Expires: {expiry}")
    click.echo(f"Connection URL: {_url()}")
    if not ws.mcp_enabled:
        click.echo(
            f"Note: the MCP server is off for '{ws.slug}'; the token works once you run "
            f"`deskwoot mcp enable {ws.slug}`."
        )
    click.echo("Token (shown once; only its hash is stored):")
    click.echo(minted.plaintext)


@mcp_group.command("revoke")
@click.argument("workspace")
@click.argument("token", metavar="TOKEN")
@operation
def mcp_revoke(workspace: str, token: str) -> None:
    """Revoke a token by its name, its displayed prefix…last4, or the whole token."""
    _, actor = workspace_actor(workspace)
    needle = token.strip().replace("...", "…")
    match = tokens.find_for_revoke(actor, needle)
    revoked = tokens.revoke(actor, match.id)
    click.echo(
        f"Revoked '{revoked.name}' ({tokens.display(revoked)}) in '{workspace}': "
        "its next request is refused, on every worker."
    )


@mcp_group.command("tokens")
@click.argument("workspace")
@operation
def mcp_tokens(workspace: str) -> None:
    """List WORKSPACE's bot tokens (never the tokens themselves)."""
    _, actor = workspace_actor(workspace)
    overview = mcp_settings.overview(actor)
    if not overview.tokens:
        click.echo(
            f"No tokens in '{workspace}' yet: `deskwoot mcp mint {workspace} "
            "--name NAME --preset drafts`."
        )
        return
    rows = [
        [
            t.name,
            tokens.display(t),
            _scope_summary(t, short=True),
            _inboxes(t, overview.inbox_names),
            when(t.created_at),
            when(t.last_used_at),
            when(t.expires_at),
            tokens.status(t),
        ]
        for t in overview.tokens
    ]
    table(["NAME", "TOKEN", "SCOPES", "INBOXES", "CREATED", "LAST USED", "EXPIRES", "STATUS"], rows)
