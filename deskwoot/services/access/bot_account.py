"""The workspace's bot service account: who every bot token (MCP or REST) acts as."""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from deskwoot.models import User, Workspace
from deskwoot.policy import Actor
from deskwoot.services.activity import audit_recorder as audit


def ensure(session: Session, ws: Workspace, actor: Actor, surface: str) -> User | None:
    """Create the bot account unless the workspace has one, inside the caller's transaction;
    the new account, or None when there already was one. Audited as `{surface}.bot_provisioned`
    (the surface whose first use created it)."""
    if ws.bot_user_id is not None:
        return None
    bot = User(
        # Bots never log in: no password, and an address no mail can reach.
        email=f"bot-{ws.id}-{secrets.token_hex(4)}@bots.deskwoot.invalid",
        name=f"{ws.name} bot",
        kind="bot",
    )
    session.add(bot)
    session.flush()
    ws.bot_user_id = bot.id
    audit.record(actor, f"{surface}.bot_provisioned", target=bot.name)
    return bot
