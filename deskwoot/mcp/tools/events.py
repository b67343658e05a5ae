"""poll_events: what changed since the agent last looked (ARCHITECTURE §6)."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from deskwoot.errors import Invalid
from deskwoot.mcp import cursors, views
from deskwoot.mcp import schemas as S
from deskwoot.mcp.registry import ToolContext, tool
from deskwoot.models import utcnow
from deskwoot.services.activity import event_feed as feed


@tool(
    "poll_events",
    title="Poll the events feed",
    scope="events:read",
    description=(
        "Events in commit order since your cursor (or from 24 hours back without one): "
        "conversation.created/updated, message.created/delivered/failed, "
        "draft.created/approved/rejected, "
        "contact.created/updated. Always continue with next_cursor — it never skips or "
        "repeats an event, even when a page is empty. actor.is_self marks your own actions. "
        "Filter with types (keep the same types for the same cursor)."
    ),
    input_schema=S.obj(
        {
            "cursor": S.CURSOR,
            "limit": S.LIMIT,
            "types": S.array(S.EVENT_TYPE, minItems=1, uniqueItems=True),
        }
    ),
    output_schema=S.obj(
        {
            "events": S.array(S.EVENT),
            "next_cursor": S.STRING,
            "has_more": S.BOOL,
        },
        ("events", "next_cursor", "has_more"),
        strict=False,
    ),
    read_only=True,
    reads_alone=True,  # prebuilt statements only
)
def poll_events(ctx: ToolContext, args: dict) -> dict:
    actor = ctx.actor
    key = {"types": sorted(args.get("types") or [])}
    position = cursors.decode(args.get("cursor"), actor.workspace_id, "events", key)
    after_id = None
    if position is not None:
        after_id, issued = position
        retention = timedelta(days=current_app.config["EVENT_RETENTION_DAYS"])
        if issued < (utcnow() - retention).timestamp():
            raise Invalid(
                "This cursor is older than the event retention window, so events may have "
                "been pruned. Resync: re-read the conversations you care about, then poll "
                "again without a cursor.",
                field="cursor",
                reason="resync_required",
            )
    page = feed.poll(actor, after_id, args.get("limit", 50), args.get("types"))
    display_ids = feed.display_ids({e.conversation_id for e in page.events if e.conversation_id})
    return {
        "events": [views.event(e, display_ids, actor.token_id) for e in page.events],
        "next_cursor": cursors.encode(
            actor.workspace_id, "events", key, [page.next_after_id, int(utcnow().timestamp())]
        ),
        "has_more": page.has_more,
    }
