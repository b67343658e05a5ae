"""The MCP server: switch it on or off, and mint, list and revoke bot tokens."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from deskwoot.cli.bot_tokens import add_token_commands
from deskwoot.cli.common import lock_message, operation, workspace_actor
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


def _after_mint(ws) -> list[str]:
    lines = [f"Connection URL: {_url()}"]
    if not ws.mcp_enabled:
        lines.append(
            f"Note: the MCP server is off for '{ws.slug}'; the token works once you run "
            f"`deskwoot mcp enable {ws.slug}`."
        )
    return lines


add_token_commands(mcp_group, "mcp", _after_mint)
