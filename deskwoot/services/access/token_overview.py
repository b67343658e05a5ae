"""What a bot-token settings page shows (Settings > MCP Server, Settings > API tokens): the
bot the tokens act as, the plan lock, the surface's switch and its tokens of one kind."""

from __future__ import annotations

from dataclasses import dataclass

from deskwoot import policy
from deskwoot.extensions import db
from deskwoot.models import McpToken, User, Workspace
from deskwoot.policy import Actor
from deskwoot.services.access import tokens as token_service
from deskwoot.services.directory import inboxes as inbox_service


@dataclass
class Overview:
    enabled: bool  # the surface's switch; the REST API has none, so always True there
    bot: User | None
    lock_reason: str | None  # None, "plan_required" or "trial_expired" (policy)
    tokens: list[McpToken]
    inbox_names: dict[int, str]


def overview(actor: Actor, kind: str) -> Overview:
    """The page's overview for tokens of `kind` ("mcp" or "api"): the other kind is left out."""
    policy.require_admin(actor)
    ws = db.session.get(Workspace, actor.workspace_id)
    bot = db.session.get(User, ws.bot_user_id) if ws.bot_user_id else None
    return Overview(
        enabled=ws.mcp_enabled if kind == "mcp" else True,
        bot=bot,
        lock_reason=policy.feature_lock_reason(ws, token_service.FEATURE_OF_KIND[kind]),
        tokens=token_service.list_tokens(actor, kind),
        inbox_names={inbox.id: inbox.name for inbox in inbox_service.list_inboxes(actor)},
    )
