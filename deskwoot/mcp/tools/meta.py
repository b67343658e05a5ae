"""whoami: what this token is and may do."""

from __future__ import annotations

from deskwoot.extensions import db
from deskwoot.mcp import schemas as S
from deskwoot.mcp.registry import ToolContext, tool
from deskwoot.mcp.views import iso
from deskwoot.models import Workspace
from deskwoot.policy import mcp_lock_reason
from deskwoot.services.directory import inboxes, workspaces

OUTPUT = S.obj(
    {
        "workspace": S.obj(
            {"id": S.ID, "name": S.STRING, "slug": S.STRING}, ("id", "name", "slug"), strict=False
        ),
        "token": S.obj(
            {
                "id": S.ID,
                "name": S.STRING,
                "scopes": S.array(S.STRING),
                "inbox_ids": S.nullable(S.array(S.ID)),
            },
            ("id", "name", "scopes", "inbox_ids"),
            strict=False,
        ),
        "inboxes": S.array(S.INBOX_REF),
        "plan": S.obj(
            {
                "name": S.STRING,
                "trial_ends_at": S.nullable(S.TIME),
                "trial_days_left": S.nullable(S.INT),
                "mcp_available": S.BOOL,
            },
            ("name", "trial_ends_at", "trial_days_left", "mcp_available"),
            strict=False,
        ),
    },
    ("workspace", "token", "inboxes", "plan"),
    strict=False,
)


@tool(
    "whoami",
    title="Who am I",
    scope=None,
    description=(
        "Describe this connection: the workspace, this token's name, scopes and inbox "
        "restriction (null inbox_ids means every inbox), the inboxes you can work, and the "
        "plan or trial state. Call it first."
    ),
    input_schema=S.obj({}),
    output_schema=OUTPUT,
    read_only=True,
)
def whoami(ctx: ToolContext, args: dict) -> dict:
    actor = ctx.actor
    ws = db.session.get(Workspace, actor.workspace_id)
    return {
        "workspace": {"id": ws.id, "name": ws.name, "slug": ws.slug},
        "token": {
            "id": actor.token_id,
            "name": actor.name,
            "scopes": sorted(actor.scopes or ()),
            "inbox_ids": sorted(actor.inbox_ids) if actor.inbox_ids is not None else None,
        },
        "inboxes": [{"id": i.id, "name": i.name} for i in inboxes.list_inboxes(actor)],
        "plan": {
            "name": ws.plan,
            "trial_ends_at": iso(ws.trial_ends_at) if ws.plan == "trial" else None,
            "trial_days_left": workspaces.trial_days_left(ws) if ws.plan == "trial" else None,
            "mcp_available": mcp_lock_reason(ws) is None,
        },
    }
