"""Contact tools: find, read, create and update customers, and note things about them."""

from __future__ import annotations

from deskwoot.errors import Invalid
from deskwoot.mcp import cursors, views
from deskwoot.mcp import schemas as S
from deskwoot.mcp.registry import ToolContext, tool
from deskwoot.services.conversations import reads, search
from deskwoot.services.directory import contacts as svc

CONTACT_OUT = S.obj({"contact": S.CONTACT}, ("contact",), strict=False)
CONTACT_FIELDS = {
    "name": S.text(200),
    "email": S.text(254),
    "phone": S.text(40),
    "custom_attributes": S.ATTRIBUTES,
}


@tool(
    "search_contacts",
    title="Search contacts",
    scope="contacts:read",
    description="Find contacts by name or email words, or an exact phone or identifier. "
    "Page with next_cursor.",
    input_schema=S.obj({"query": S.text(200), "cursor": S.CURSOR, "limit": S.LIMIT}, ("query",)),
    output_schema=S.page("contacts", S.CONTACT),
    read_only=True,
)
def search_contacts(ctx: ToolContext, args: dict) -> dict:
    actor = ctx.actor
    if not search.terms(args["query"]):
        raise Invalid("query needs at least one word to search for.", field="query")
    key = {"query": args["query"]}
    after = cursors.decode(args.get("cursor"), actor.workspace_id, "contacts", key)
    rows, has_more = svc.search_contacts_after(actor, args["query"], after, args.get("limit", 25))
    return {
        "contacts": [views.contact(c) for c in rows],
        "next_cursor": cursors.encode(actor.workspace_id, "contacts", key, rows[-1].id)
        if has_more
        else None,
        "has_more": has_more,
    }


@tool(
    "get_contact",
    title="Get a contact",
    scope="contacts:read",
    description="Read a contact: fields, custom attributes, the team's notes, and the "
    "conversations with them that you can see (most recent first).",
    input_schema=S.obj({"contact_id": S.ID}, ("contact_id",)),
    output_schema=S.obj(
        {
            "contact": S.CONTACT,
            "notes": S.array(S.NOTE),
            "conversations": S.array(S.CONVERSATION),
        },
        ("contact", "notes", "conversations"),
        strict=False,
    ),
    read_only=True,
    id_args={"contact_id": "contact"},
)
def get_contact(ctx: ToolContext, args: dict) -> dict:
    contact = svc.get_contact(ctx.actor, args["contact_id"])
    conversations = svc.conversations_of(ctx.actor, contact.id)[:25]
    last = reads.last_messages([c.id for c in conversations])
    return {
        "contact": views.contact(contact),
        "notes": [views.note(n) for n in contact.notes[:50]],
        "conversations": [views.conversation(c, last.get(c.id)) for c in conversations],
    }


@tool(
    "create_contact",
    title="Create a contact",
    scope="contacts:write",
    description="Create a contact; give at least a name, email, phone or identifier. Email "
    "and identifier are unique in the workspace.",
    input_schema=S.obj(
        {**CONTACT_FIELDS, "identifier": S.text(200), "idempotency_key": S.IDEMPOTENCY_KEY}
    ),
    output_schema=CONTACT_OUT,
    read_only=False,
    idempotent=False,
    idempotency="optional",
)
def create_contact(ctx: ToolContext, args: dict) -> dict:
    fields = {k: v for k, v in args.items() if k != "idempotency_key"}
    return {"contact": views.contact(svc.create_contact(ctx.actor, **fields))}


@tool(
    "update_contact",
    title="Update a contact",
    scope="contacts:write",
    description="Change a contact's name, email or phone, and merge custom attributes (a "
    "null value removes the key).",
    input_schema=S.obj({"contact_id": S.ID, **CONTACT_FIELDS}, ("contact_id",)),
    output_schema=CONTACT_OUT,
    read_only=False,
    idempotent=True,
    id_args={"contact_id": "contact"},
)
def update_contact(ctx: ToolContext, args: dict) -> dict:
    fields = {k: v for k, v in args.items() if k != "contact_id"}
    if not fields:
        raise Invalid("Nothing to change: pass name, email, phone or custom_attributes.")
    return {"contact": views.contact(svc.update_contact(ctx.actor, args["contact_id"], **fields))}


@tool(
    "add_contact_note",
    title="Add a note to a contact",
    scope="contacts:write",
    description="Leave a note on the contact's profile for the team (customers never see it).",
    input_schema=S.obj(
        {"contact_id": S.ID, "body": S.BODY, "idempotency_key": S.IDEMPOTENCY_KEY},
        ("contact_id", "body"),
    ),
    output_schema=S.obj({"contact_id": S.ID, "note": S.NOTE}, ("contact_id", "note"), strict=False),
    read_only=False,
    idempotent=False,
    idempotency="optional",
    id_args={"contact_id": "contact"},
)
def add_contact_note(ctx: ToolContext, args: dict) -> dict:
    note = svc.add_note(ctx.actor, args["contact_id"], args["body"])
    return {"contact_id": args["contact_id"], "note": views.note(note)}
