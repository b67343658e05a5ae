"""Turning the MCP server on and off for a workspace."""

from __future__ import annotations

import json

from deskwoot import policy
from deskwoot.database.transactions import write_transaction
from deskwoot.models import Workspace
from deskwoot.policy import Actor
from deskwoot.services.access import bot_account, token_overview
from deskwoot.services.activity import audit_recorder as audit

# What Settings > MCP Server shows (the switch, the bot, the plan lock and the tokens).
Overview = token_overview.Overview


def set_enabled(actor: Actor, enabled: bool) -> Workspace:
    """Enable or disable MCP; the first enable provisions the bot service account."""
    policy.require_admin(actor)
    with write_transaction() as session:
        ws = session.get(Workspace, actor.workspace_id)
        if enabled:
            bot_account.ensure(session, ws, actor, "mcp")
        if ws.mcp_enabled != enabled:
            ws.mcp_enabled = enabled
            audit.record(actor, "mcp.enabled" if enabled else "mcp.disabled", target=ws.slug)
    return ws


def overview(actor: Actor) -> Overview:
    """Settings > MCP Server's overview: its MCP tokens only."""
    return token_overview.overview(actor, "mcp")


def connection_url(public_url: str) -> str:
    """Where an agent connects: {PUBLIC_URL}/api/mcp."""
    return public_url.rstrip("/") + "/api/mcp"


def client_config(public_url: str, plaintext: str) -> str:
    """The ready `mcpServers` JSON an MCP client (OpenClaw, Claude…) takes, with the token."""
    config = {
        "mcpServers": {
            "deskwoot": {
                "url": connection_url(public_url),
                "headers": {"Authorization": f"Bearer {plaintext}"},
            }
        }
    }
    return json.dumps(config, indent=2)
