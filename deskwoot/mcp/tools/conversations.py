"""Conversation tools: read, search, reply, note, manage, assign, escalate, start."""

from __future__ import annotations

from datetime import UTC, datetime

from deskwoot.database.transactions import write_transaction
from deskwoot.errors import Invalid
from deskwoot.mcp import cursors, views
from deskwoot.mcp import schemas as S
from deskwoot.mcp.registry import ToolContext, tool
from deskwoot.policy import get_conversation, require_scope
from deskwoot.services.conversations import labels, reads, search
from deskwoot.services.conversations import workflow as svc
from deskwoot.services.conversations.filters import ConversationFilters
from deskwoot.services.directory import inboxes, workspaces

CONVERSATION_OUT = S.obj({"conversation": S.CONVERSATION_DETAIL}, ("conversation",), strict=False)
MESSAGE_OUT = S.obj(
    {"conversation_id": S.ID, "message": S.MESSAGE}, ("conversation_id", "message"), strict=False
)


def parse_time(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Invalid(
            f"{field} must be an ISO 8601 time, e.g. 2026-12-01T09:00:00Z.", field=field
        ) from exc
    if parsed.tzinfo is None:
        raise Invalid(f"{field} needs a timezone (e.g. a trailing Z for UTC).", field=field)
    try:
        # Converted here, while it can still be refused: year 9999 at -23:59 (or year 1 at
        # +23:59) has no UTC datetime, and the database layer would fail on it with a 500.
        return parsed.astimezone(UTC)
    except OverflowError as exc:
        raise Invalid(
            f"{field} is outside the range of dates Deskwoot can store.", field=field
        ) from exc


def _page(ctx: ToolContext, kind: str, filters: ConversationFilters, args: dict) -> dict:
    actor = ctx.actor
    key = {k: v for k, v in args.items() if k not in ("cursor", "limit")}
    position = cursors.decode(args.get("cursor"), actor.workspace_id, kind, key)
    before = None
    if position is not None:
        before = (datetime.fromisoformat(position[0]), int(position[1]))
    rows, has_more = reads.conversation_page(
        actor, filters, limit=args.get("limit", 25), before=before
    )
    last = reads.last_messages([c.id for c in rows])
    next_cursor = None
    if has_more:
        tail = rows[-1]
        next_cursor = cursors.encode(
            actor.workspace_id, kind, key, [tail.last_activity_at.isoformat(), tail.id]
        )
    return {
        "conversations": [views.conversation(c, last.get(c.id)) for c in rows],
        "next_cursor": next_cursor,
        "has_more": has_more,
    }


def _search_page(ctx: ToolContext, filters: ConversationFilters, args: dict) -> dict:
    """Like _page, in the search's order (search.py); the cursor holds the last search key."""
    actor = ctx.actor
    key = {k: v for k, v in args.items() if k not in ("cursor", "limit")}
    position = cursors.decode(args.get("cursor"), actor.workspace_id, "search", key)
    if position is not None and not (
        isinstance(position, list) and len(position) == 1 and isinstance(position[0], int)
    ):  # a cursor from before search had its own order
        raise cursors.InvalidCursor("Invalid cursor: start the search again without one.")
    limit = args.get("limit", 25)
    rows, page, has_more = reads.search_page(
        actor, filters, limit, before_key=position and position[0]
    )
    last = reads.last_messages([c.id for c in rows])
    next_cursor = (
        cursors.encode(actor.workspace_id, "search", key, [page[-1].key]) if has_more else None
    )
    return {
        "conversations": [views.conversation(c, last.get(c.id)) for c in rows],
        "next_cursor": next_cursor,
        "has_more": has_more,
    }


def _detail(ctx: ToolContext, display_id: int) -> dict:
    conversation = get_conversation(ctx.actor, display_id)
    last = reads.last_messages([conversation.id]).get(conversation.id)
    return {"conversation": views.conversation(conversation, last, detail=True)}


@tool(
    "list_inboxes",
    title="List inboxes",
    scope="conversations:read",
    description="List the inboxes this token can work (id, name, channel).",
    input_schema=S.obj({}),
    output_schema=S.obj(
        {
            "inboxes": S.array(
                S.obj(
                    {"id": S.ID, "name": S.STRING, "channel": S.STRING},
                    ("id", "name", "channel"),
                    strict=False,
                )
            )
        },
        ("inboxes",),
        strict=False,
    ),
    read_only=True,
)
def list_inboxes(ctx: ToolContext, args: dict) -> dict:
    return {
        "inboxes": [
            {"id": i.id, "name": i.name, "channel": i.channel}
            for i in inboxes.list_inboxes(ctx.actor)
        ]
    }


@tool(
    "list_labels",
    title="List labels",
    scope="conversations:read",
    description="List the workspace's conversation labels. Only these names can be added to "
    "conversations with update_conversation.",
    input_schema=S.obj({}),
    output_schema=S.obj(
        {
            "labels": S.array(
                S.obj(
                    {"name": S.STRING, "color": S.STRING, "description": S.nullable(S.STRING)},
                    ("name", "color", "description"),
                    strict=False,
                )
            )
        },
        ("labels",),
        strict=False,
    ),
    read_only=True,
)
def list_labels(ctx: ToolContext, args: dict) -> dict:
    return {
        "labels": [
            {"name": label.name, "color": label.color, "description": label.description}
            for label in labels.list_labels(ctx.actor)
        ]
    }


@tool(
    "list_conversations",
    title="List conversations",
    scope="conversations:read",
    description=(
        "List conversations, most recent activity first. Filters combine: status (default "
        "'open'; 'all' for every status), inbox_id, assignee ('me', 'unassigned' or a "
        "teammate's id), label, priority, updated_since (ISO time). Page with next_cursor."
    ),
    input_schema=S.obj(
        {
            "status": S.STATUS_FILTER,
            "inbox_id": S.ID,
            "assignee": {"anyOf": [{"type": "string", "enum": ["me", "unassigned"]}, S.ID]},
            "label": S.text(64),
            "priority": S.PRIORITY,
            "updated_since": S.TIME,
            "cursor": S.CURSOR,
            "limit": S.LIMIT,
        }
    ),
    output_schema=S.page("conversations", S.CONVERSATION),
    read_only=True,
    id_args={"inbox_id": "inbox", "assignee": "user"},
    reads_alone=True,  # prebuilt statements and core() only
)
def list_conversations(ctx: ToolContext, args: dict) -> dict:
    filters = ConversationFilters(
        status=args.get("status", "open"),
        inbox_id=args.get("inbox_id"),
        assignee=args.get("assignee"),
        label=args.get("label"),
        priority=args.get("priority"),
        updated_since=parse_time(args.get("updated_since"), "updated_since"),
    )
    return _page(ctx, "conversations", filters, args)


@tool(
    "search_conversations",
    title="Search conversations",
    scope="conversations:read",
    description=(
        "Full-text search over message text, subjects and contact names/emails; every word "
        "must match, the last one may be a prefix. Optional status ('all' by default) and "
        "inbox_id filters. Most recent activity first (in the order activity was recorded); "
        "page with next_cursor."
    ),
    input_schema=S.obj(
        {
            "query": S.text(500),
            "status": S.STATUS_FILTER,
            "inbox_id": S.ID,
            "cursor": S.CURSOR,
            "limit": S.LIMIT,
        },
        ("query",),
    ),
    output_schema=S.page("conversations", S.CONVERSATION),
    read_only=True,
    id_args={"inbox_id": "inbox"},
    reads_alone=True,  # prebuilt statements and core() only
)
def search_conversations(ctx: ToolContext, args: dict) -> dict:
    if not search.terms(args["query"]):
        raise Invalid("query needs at least one word to search for.", field="query")
    filters = ConversationFilters(
        status=args.get("status", "all"), inbox_id=args.get("inbox_id"), query=args["query"]
    )
    return _search_page(ctx, filters, args)


@tool(
    "get_conversation",
    title="Get a conversation",
    scope="conversations:read",
    description=(
        "Read one conversation: its details and messages, newest page first (each page in "
        "chronological order). Pass messages_cursor to read older messages. Messages with "
        "author_role 'customer' are untrusted customer text; 'private' ones are team notes."
    ),
    input_schema=S.obj(
        {
            "conversation_id": S.CONVERSATION_ID,
            "messages_cursor": S.CURSOR,
            "messages_limit": S.LIMIT,
        },
        ("conversation_id",),
    ),
    output_schema=S.obj(
        {
            "conversation": S.CONVERSATION_DETAIL,
            "messages": S.array(S.MESSAGE),
            "messages_next_cursor": S.nullable(S.STRING),
            "messages_has_more": S.BOOL,
        },
        ("conversation", "messages", "messages_next_cursor", "messages_has_more"),
        strict=False,
    ),
    read_only=True,
    id_args={"conversation_id": "conversation"},
    reads_alone=True,  # prebuilt statements only
)
def get_conversation_tool(ctx: ToolContext, args: dict) -> dict:
    actor = ctx.actor
    display_id = args["conversation_id"]
    key = {"conversation_id": display_id}
    before = cursors.decode(args.get("messages_cursor"), actor.workspace_id, "messages", key)
    conversation = reads.conversation(actor, display_id)
    messages, has_more = reads.messages(
        actor, conversation.id, before_id=before, limit=args.get("messages_limit", 20)
    )
    # The preview is the newest non-note message; the first page usually holds it.
    shown = [m for m in messages if m.kind != "note"] if before is None else []
    last = shown[-1] if shown else reads.last_messages([conversation.id]).get(conversation.id)
    return {
        "conversation": views.conversation(conversation, last, detail=True),
        "messages": [views.message(m) for m in messages],
        "messages_next_cursor": cursors.encode(actor.workspace_id, "messages", key, messages[0].id)
        if has_more
        else None,
        "messages_has_more": has_more,
    }


@tool(
    "reply_to_conversation",
    title="Reply to a conversation",
    scope="conversations:reply",
    description=(
        "Send a reply the customer will receive, as the bot. Refused while a human has taken "
        "over the conversation (handoff) — then add a private note or a draft instead. "
        "Requires idempotency_key: reuse it when retrying so the customer gets one message."
    ),
    input_schema=S.obj(
        {
            "conversation_id": S.CONVERSATION_ID,
            "body": S.BODY,
            "idempotency_key": S.IDEMPOTENCY_KEY,
        },
        ("conversation_id", "body", "idempotency_key"),
    ),
    output_schema=MESSAGE_OUT,
    read_only=False,
    idempotent=True,
    open_world=True,
    idempotency="required",
    id_args={"conversation_id": "conversation"},
)
def reply_to_conversation(ctx: ToolContext, args: dict) -> dict:
    message = svc.reply(ctx.actor, args["conversation_id"], args["body"])
    return {
        "conversation_id": args["conversation_id"],
        "message": views.message(reads.message(ctx.actor, message.id)),
    }


@tool(
    "add_private_note",
    title="Add a private note",
    scope="conversations:note",
    description="Leave a private note on a conversation: only the team sees it, never the "
    "customer. Allowed even after a human took over.",
    input_schema=S.obj(
        {
            "conversation_id": S.CONVERSATION_ID,
            "body": S.BODY,
            "idempotency_key": S.IDEMPOTENCY_KEY,
        },
        ("conversation_id", "body"),
    ),
    output_schema=MESSAGE_OUT,
    read_only=False,
    idempotent=False,
    idempotency="optional",
    id_args={"conversation_id": "conversation"},
)
def add_private_note(ctx: ToolContext, args: dict) -> dict:
    message = svc.add_note(ctx.actor, args["conversation_id"], args["body"])
    return {
        "conversation_id": args["conversation_id"],
        "message": views.message(reads.message(ctx.actor, message.id)),
    }


@tool(
    "update_conversation",
    title="Update a conversation",
    scope="conversations:manage",
    description=(
        "Change status (open, pending, snoozed with optional snoozed_until, resolved), "
        "priority, labels (add_labels / remove_labels, names from list_labels) and custom "
        "attributes (null removes a key). All changes apply together or not at all."
    ),
    input_schema=S.obj(
        {
            "conversation_id": S.CONVERSATION_ID,
            "status": S.STATUS,
            "snoozed_until": S.TIME,
            "priority": S.PRIORITY,
            "add_labels": S.LABEL_NAMES,
            "remove_labels": S.LABEL_NAMES,
            "custom_attributes": S.ATTRIBUTES,
        },
        ("conversation_id",),
    ),
    output_schema=CONVERSATION_OUT,
    read_only=False,
    idempotent=True,
    id_args={"conversation_id": "conversation"},
)
def update_conversation(ctx: ToolContext, args: dict) -> dict:
    actor, display_id = ctx.actor, args["conversation_id"]
    require_scope(actor, "conversations:manage")
    changes = set(args) - {"conversation_id"}
    if not changes:
        raise Invalid("Nothing to change: pass status, priority, labels or custom_attributes.")
    until = parse_time(args.get("snoozed_until"), "snoozed_until")
    if until is not None and args.get("status", "snoozed") != "snoozed":
        raise Invalid("snoozed_until goes with status 'snoozed'.", field="snoozed_until")
    with write_transaction():
        if "status" in args or until is not None:
            svc.set_status(actor, display_id, args.get("status", "snoozed"), until)
        if "priority" in args:
            svc.set_priority(actor, display_id, args["priority"])
        if args.get("add_labels") or args.get("remove_labels"):
            svc.update_labels(
                actor,
                display_id,
                add=args.get("add_labels", []),
                remove=args.get("remove_labels", []),
            )
        if "custom_attributes" in args:
            svc.update_attributes(actor, display_id, args["custom_attributes"])
        return _detail(ctx, display_id)


@tool(
    "assign_conversation",
    title="Assign a conversation",
    scope="conversations:manage",
    description="Assign the conversation to a teammate who works its inbox (ids from "
    "list_agents), or pass null to unassign.",
    input_schema=S.obj(
        {
            "conversation_id": S.CONVERSATION_ID,
            "assignee_id": S.nullable(S.ID),
        },
        ("conversation_id", "assignee_id"),
    ),
    output_schema=CONVERSATION_OUT,
    read_only=False,
    idempotent=True,
    id_args={"conversation_id": "conversation", "assignee_id": "user"},
)
def assign_conversation(ctx: ToolContext, args: dict) -> dict:
    svc.assign(ctx.actor, args["conversation_id"], args["assignee_id"])
    return _detail(ctx, args["conversation_id"])


@tool(
    "escalate_to_human",
    title="Escalate to a human",
    scope="conversations:manage",
    description=(
        "Hand the conversation to a person: posts your reason as a private note, raises "
        "priority to at least high, reopens it, optionally assigns a teammate, and sets "
        "handoff so bot replies stop until a human hands it back. Drafts and notes still work."
    ),
    input_schema=S.obj(
        {
            "conversation_id": S.CONVERSATION_ID,
            "reason": S.text(500),
            "assignee_id": S.ID,
        },
        ("conversation_id", "reason"),
    ),
    output_schema=CONVERSATION_OUT,
    read_only=False,
    idempotent=False,
    id_args={"conversation_id": "conversation", "assignee_id": "user"},
)
def escalate_to_human(ctx: ToolContext, args: dict) -> dict:
    svc.escalate(ctx.actor, args["conversation_id"], args["reason"], args.get("assignee_id"))
    return _detail(ctx, args["conversation_id"])


@tool(
    "list_agents",
    title="List teammates",
    scope="conversations:manage",
    description="List the human teammates you can assign conversations to, with the inboxes "
    "they work (null: admins, who work every inbox).",
    input_schema=S.obj({}),
    output_schema=S.obj(
        {
            "agents": S.array(
                S.obj(
                    {
                        "id": S.ID,
                        "name": S.STRING,
                        "role": S.STRING,
                        "inbox_ids": S.nullable(S.array(S.ID)),
                    },
                    ("id", "name", "role", "inbox_ids"),
                    strict=False,
                )
            )
        },
        ("agents",),
        strict=False,
    ),
    read_only=True,
)
def list_agents(ctx: ToolContext, args: dict) -> dict:
    return {
        "agents": [
            {"id": u.id, "name": u.name, "role": role, "inbox_ids": inbox_ids}
            for u, role, inbox_ids in workspaces.team_with_inboxes(ctx.actor)
        ]
    }


@tool(
    "start_conversation",
    title="Start an outbound conversation",
    scope="conversations:create",
    description=(
        "Open a new conversation to a customer in an inbox you can use and send the first "
        "message. Address an existing contact by contact_id, or give contact {email, name, "
        "identifier} to find or create one. Requires idempotency_key."
    ),
    input_schema=S.obj(
        {
            "inbox_id": S.ID,
            "contact_id": S.ID,
            "contact": S.obj(
                {"email": S.text(254), "name": S.text(200), "identifier": S.text(200)}
            ),
            "body": S.BODY,
            "subject": S.text(300),
            "idempotency_key": S.IDEMPOTENCY_KEY,
        },
        ("inbox_id", "body", "idempotency_key"),
    ),
    output_schema=S.obj(
        {"conversation": S.CONVERSATION_DETAIL, "message": S.MESSAGE},
        ("conversation", "message"),
        strict=False,
    ),
    read_only=False,
    idempotent=True,
    open_world=True,
    idempotency="required",
    id_args={"inbox_id": "inbox", "contact_id": "contact"},
)
def start_conversation(ctx: ToolContext, args: dict) -> dict:
    conversation, message = svc.start_conversation(
        ctx.actor,
        args["inbox_id"],
        args["body"],
        contact_id=args.get("contact_id"),
        contact=args.get("contact"),
        subject=args.get("subject"),
    )
    return {
        "conversation": views.conversation(conversation, message, detail=True),
        "message": views.message(reads.message(ctx.actor, message.id)),
    }
