"""Turning the MCP server on and off for a workspace."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from deskwoot import policy
from deskwoot.database.transactions import write_transaction
from deskwoot.extensions import db
from deskwoot.models import McpToken, User, Workspace
from deskwoot.policy import Actor
from deskwoot.services.access import tokens as token_service
from deskwoot.services.activity import audit_recorder as audit
from deskwoot.services.directory import inboxes as inbox_service


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


@dataclass
class Overview:
    """What Settings > MCP Server shows: the switch, the bot, the plan lock and the tokens."""

    enabled: bool
    bot: User | None
    lock_reason: str | None  # None, "plan_required" or "trial_expired" (policy.mcp_lock_reason)
    tokens: list[McpToken]
    inbox_names: dict[int, str]


def overview(actor: Actor) -> Overview:
    policy.require_admin(actor)
    ws = db.session.get(Workspace, actor.workspace_id)
    bot = db.session.get(User, ws.bot_user_id) if ws.bot_user_id else None
    return Overview(
        enabled=ws.mcp_enabled,
        bot=bot,
        lock_reason=policy.mcp_lock_reason(ws),
        tokens=token_service.list_tokens(actor),
        inbox_names={inbox.id: inbox.name for inbox in inbox_service.list_inboxes(actor)},
    )


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
