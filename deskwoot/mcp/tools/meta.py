"""whoami: what this token is and may do."""

from __future__ import annotations

from deskwoot.mcp import schemas as S
from deskwoot.mcp.registry import ToolContext, tool
from deskwoot.mcp.views import iso
from deskwoot.services.access import tokens

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
    me = tokens.whoami(ctx.actor)
    ws = me.workspace
    return {
        "workspace": {"id": ws.id, "name": ws.name, "slug": ws.slug},
        "token": {
            "id": me.token_id,
            "name": me.name,
            "scopes": me.scopes,
            "inbox_ids": me.inbox_ids,
        },
        "inboxes": [{"id": i.id, "name": i.name} for i in me.inboxes],
        "plan": {
            "name": ws.plan,
            "trial_ends_at": iso(ws.trial_ends_at) if me.on_trial else None,
            "trial_days_left": me.trial_days_left,
            "mcp_available": me.mcp_available,
        },
    }
