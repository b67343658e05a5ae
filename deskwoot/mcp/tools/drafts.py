"""Draft tools: propose a reply for a human to approve, and learn how it went."""

from __future__ import annotations

from deskwoot.mcp import cursors, views
from deskwoot.mcp import schemas as S
from deskwoot.mcp.registry import ToolContext, tool
from deskwoot.services.conversations import drafts as svc


@tool(
    "create_draft_reply",
    title="Draft a reply for approval",
    scope="conversations:draft",
    description=(
        "Propose a reply that a teammate reviews: nothing reaches the customer until a human "
        "approves it (possibly with edits) or rejects it with a reason. A newer draft from you "
        "on the same conversation supersedes your older pending one. Follow the outcome with "
        "list_drafts or the draft.* events."
    ),
    input_schema=S.obj(
        {
            "conversation_id": S.CONVERSATION_ID,
            "body": S.BODY,
            "note_to_reviewer": S.text(2000),
            "idempotency_key": S.IDEMPOTENCY_KEY,
        },
        ("conversation_id", "body"),
    ),
    output_schema=S.obj({"draft": S.DRAFT}, ("draft",), strict=False),
    read_only=False,
    idempotent=False,
    idempotency="optional",
    id_args={"conversation_id": "conversation"},
)
def create_draft_reply(ctx: ToolContext, args: dict) -> dict:
    draft = svc.create_draft(
        ctx.actor, args["conversation_id"], args["body"], args.get("note_to_reviewer")
    )
    return {"draft": views.draft(draft, args["conversation_id"])}


@tool(
    "list_drafts",
    title="List my drafts",
    scope="conversations:draft",
    description=(
        "List the drafts this token wrote, newest first, with their outcome: pending, "
        "approved_as_is, approved_with_edits (final_body is what was sent), rejected "
        "(rejection_reason says why) or superseded. Filter by status or conversation_id."
    ),
    input_schema=S.obj(
        {
            "status": S.DRAFT_STATUS,
            "conversation_id": S.CONVERSATION_ID,
            "cursor": S.CURSOR,
            "limit": S.LIMIT,
        }
    ),
    output_schema=S.page("drafts", S.DRAFT),
    read_only=True,
    id_args={"conversation_id": "conversation"},
)
def list_drafts(ctx: ToolContext, args: dict) -> dict:
    actor = ctx.actor
    key = {k: v for k, v in args.items() if k not in ("cursor", "limit")}
    before = cursors.decode(args.get("cursor"), actor.workspace_id, "drafts", key)
    rows, has_more = svc.token_drafts(
        actor,
        args.get("status"),
        args.get("conversation_id"),
        before_id=int(before) if before is not None else None,
        limit=args.get("limit", 25),
    )
    return {
        "drafts": [views.draft(d, d.conversation.display_id) for d in rows],
        "next_cursor": cursors.encode(actor.workspace_id, "drafts", key, rows[-1].id)
        if has_more
        else None,
        "has_more": has_more,
    }
