"""Turning the MCP server on and off for a workspace (DESIGN §5.1)."""

from __future__ import annotations

import secrets

from deskwoot import policy
from deskwoot.database import write_transaction
from deskwoot.models import User, Workspace
from deskwoot.policy import Actor
from deskwoot.services import audit


def set_enabled(actor: Actor, enabled: bool) -> Workspace:
    """Enable or disable MCP; the first enable provisions the bot service account."""
    policy.require_admin(actor)
    with write_transaction() as session:
        ws = session.get(Workspace, actor.workspace_id)
        if enabled and ws.bot_user_id is None:
            bot = User(
                # Bots never log in: no password, and an address no mail can reach.
                email=f"bot-{ws.id}-{secrets.token_hex(4)}@bots.deskwoot.invalid",
                name=f"{ws.name} bot",
                kind="bot",
            )
            session.add(bot)
            session.flush()
            ws.bot_user_id = bot.id
            audit.record(actor, "mcp.bot_provisioned", target=bot.name)
        if ws.mcp_enabled != enabled:
            ws.mcp_enabled = enabled
            audit.record(actor, "mcp.enabled" if enabled else "mcp.disabled", target=ws.slug)
    return ws
