"""`mint`, `revoke` and `tokens` for a kind of bot token, shared by `deskwoot mcp` and
`deskwoot api`: the same options, output and errors, each group naming its kind and the lines
only it prints (the MCP connection URL, the REST API's base URL)."""

from __future__ import annotations

from collections.abc import Callable

import click

from deskwoot.cli.common import (
    days,
    inbox_option,
    inboxes_by_name,
    operation,
    table,
    when,
    workspace_actor,
)
from deskwoot.errors import Invalid
from deskwoot.models import Workspace
from deskwoot.policy import SCOPES
from deskwoot.services.access import token_overview, tokens


def chosen_scopes(scopes: str | None, preset: str | None) -> list[str]:
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


def inbox_names_of(token, names: dict[int, str]) -> str:
    if not token.inbox_ids:
        return "all inboxes"
    return ", ".join(names.get(i, f"#{i} (deleted)") for i in token.inbox_ids)


def scope_summary(token, short: bool = False) -> str:
    """The token's scopes; naming the preset when they are exactly one (only it, if short)."""
    listing = ",".join(token.scopes)
    for key, (_label, preset) in tokens.PRESETS.items():
        if sorted(preset) == sorted(token.scopes):
            return f"preset {key}" if short else f"{listing} (preset {key})"
    return listing


def add_token_commands(
    group: click.Group, kind: str, after_mint: Callable[[Workspace], list[str]]
) -> None:
    """Add `mint`, `revoke` and `tokens` for tokens of `kind` to `group`; `after_mint(ws)`
    gives the group's own lines, printed after the token's details and before the token."""
    name = group.name  # "mcp" or "api": also the first word of the commands it suggests

    @group.command("mint")
    @click.argument("workspace")
    @click.option("--name", required=True, help='What the token is for, e.g. "CRM sync".')
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
    def mint(workspace, name, scopes, preset, inbox_names, expires_in) -> None:
        """Mint a token; prints it once, alone on the last line of stdout."""
        ws, actor = workspace_actor(workspace)
        chosen = inboxes_by_name(actor, workspace, inbox_names)
        minted = tokens.mint(
            actor,
            name,
            chosen_scopes(scopes, preset),
            inbox_ids=[inbox.id for inbox in chosen],
            expires_in_days=expires_in,
            kind=kind,
        )
        token = minted.token
        click.echo(f"Minted token '{token.name}' ({tokens.display(token)}) in '{ws.slug}'.")
        click.echo(f"Scopes: {scope_summary(token)}")
        click.echo(f"Inboxes: {inbox_names_of(token, {i.id: i.name for i in chosen})}")
        expiry = (
            f"{when(token.expires_at)} (in {days(expires_in)})" if token.expires_at else "never"
        )
        click.echo(f"Expires: {expiry}")
        for line in after_mint(ws):
            click.echo(line)
        click.echo("Token (shown once; only its hash is stored):")
        click.echo(minted.plaintext)

    @group.command("revoke")
    @click.argument("workspace")
    @click.argument("token", metavar="TOKEN")
    @operation
    def revoke(workspace: str, token: str) -> None:
        """Revoke a token by its name, its displayed prefix…last4, or the whole token."""
        _, actor = workspace_actor(workspace)
        needle = token.strip().replace("...", "…")
        match = tokens.find_for_revoke(actor, needle, kind)
        revoked = tokens.revoke(actor, match.id, kind)
        click.echo(
            f"Revoked '{revoked.name}' ({tokens.display(revoked)}) in '{workspace}': "
            "its next request is refused, on every worker."
        )

    @group.command("tokens")
    @click.argument("workspace")
    @operation
    def list_tokens(workspace: str) -> None:
        """List WORKSPACE's tokens (never the tokens themselves)."""
        _, actor = workspace_actor(workspace)
        overview = token_overview.overview(actor, kind)
        if not overview.tokens:
            click.echo(
                f"No tokens in '{workspace}' yet: `deskwoot {name} mint {workspace} "
                "--name NAME --preset drafts`."
            )
            return
        rows = [
            [
                t.name,
                tokens.display(t),
                scope_summary(t, short=True),
                inbox_names_of(t, overview.inbox_names),
                when(t.created_at),
                when(t.last_used_at),
                when(t.expires_at),
                tokens.status(t),
            ]
            for t in overview.tokens
        ]
        headers = ["NAME", "TOKEN", "SCOPES", "INBOXES", "CREATED", "LAST USED", "EXPIRES"]
        table([*headers, "STATUS"], rows)
