"""JSON Schema fragments for tool inputs and outputs (strict inputs, documented outputs).

Every (sub)schema has exactly one `type` (or is an `anyOf` of such): type arrays are valid
JSON Schema 2020-12 but not portable to the function-calling dialects model providers accept.
"""

from __future__ import annotations

from deskwoot.models.conversation import DRAFT_STATUSES, PRIORITIES, STATUSES
from deskwoot.services.activity.event_feed import EVENT_TYPES

STRING = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
TIME = {"type": "string", "format": "date-time"}


NULL = {"type": "null"}


def nullable(schema: dict) -> dict:
    """`schema` or null, as two `anyOf` branches with one `type` each.

    The same set of values as `"type": [..., "null"]`, but portable: clients that map tool
    schemas onto a one-type dialect (Gemini's OpenAPI subset, for one) drop or reject a type
    array, and the MCP Inspector's portability check warns about each (tests/mcp/
    test_ts_clients.py holds it at zero)."""
    return {"anyOf": [schema, NULL]}


def obj(properties: dict, required: tuple = (), strict: bool = True) -> dict:
    schema = {"type": "object", "properties": properties, "required": list(required)}
    if strict:
        schema["additionalProperties"] = False
    return schema


def text(max_length: int, description: str | None = None, min_length: int = 1) -> dict:
    schema = {"type": "string", "minLength": min_length, "maxLength": max_length}
    if description:
        schema["description"] = description
    return schema


def described(schema: dict, description: str) -> dict:
    return {**schema, "description": description}


def array(items: dict, **extra) -> dict:
    return {"type": "array", "items": items, **extra}


# --- inputs --------------------------------------------------------------------------------

CONVERSATION_ID = described(ID, "The conversation's number (display id), as shown in lists.")
CURSOR = described(text(2000), "Opaque cursor from a previous page; repeat the same filters.")
LIMIT = described({"type": "integer", "minimum": 1, "maximum": 100}, "Page size, 1-100.")
BODY = text(20_000)
IDEMPOTENCY_KEY = described(
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[\x20-\x7e]+$"},
    "A unique key per intended action (e.g. a UUID). Retrying with the same key and the same "
    "arguments returns the original result and never sends twice.",
)
STATUS = {"type": "string", "enum": list(STATUSES)}
STATUS_FILTER = {"type": "string", "enum": [*STATUSES, "all"]}  # lists: "all" = any status
PRIORITY = {"type": "string", "enum": list(PRIORITIES)}
DRAFT_STATUS = {"type": "string", "enum": list(DRAFT_STATUSES)}
EVENT_TYPE = {"type": "string", "enum": list(EVENT_TYPES)}
ATTRIBUTES = described(
    {"type": "object", "maxProperties": 50},
    "Custom attributes to set; a null value removes the key.",
)
LABEL_NAMES = array(text(64), maxItems=20, uniqueItems=True)

# --- outputs -------------------------------------------------------------------------------

REF = obj({"id": ID, "name": nullable(STRING)}, ("id", "name"), strict=False)
PERSON = nullable(REF)
INBOX_REF = obj({"id": ID, "name": STRING}, ("id", "name"), strict=False)
CONTACT_REF = obj(
    {"id": ID, "name": nullable(STRING), "email": nullable(STRING)},
    ("id", "name", "email"),
    strict=False,
)
CONVERSATION = obj(
    {
        "display_id": ID,
        "subject": nullable(STRING),
        "status": STATUS,
        "snoozed_until": nullable(TIME),
        "priority": PRIORITY,
        "inbox": INBOX_REF,
        "contact": CONTACT_REF,
        "assignee": PERSON,
        "labels": array(STRING),
        "handoff": BOOL,
        "last_message_preview": nullable(STRING),
        "last_message_role": nullable(STRING),
        "last_activity_at": TIME,
    },
    (
        "display_id",
        "subject",
        "status",
        "priority",
        "inbox",
        "contact",
        "assignee",
        "labels",
        "handoff",
        "last_activity_at",
    ),
    strict=False,
)
CONVERSATION_DETAIL = {
    **CONVERSATION,
    "properties": {
        **CONVERSATION["properties"],
        "custom_attributes": {"type": "object"},
        "handoff_reason": nullable(STRING),
        "created_at": TIME,
    },
}
ATTACHMENT = obj(
    {
        "id": ID,
        "filename": STRING,
        "content_type": STRING,
        "size": INT,
        "skipped": described(
            nullable(STRING), "Why the file was not kept (no bytes to download); null if kept."
        ),
    },
    ("id", "filename", "content_type", "size", "skipped"),
)
MESSAGE = obj(
    {
        "id": ID,
        "kind": {"type": "string", "enum": ["incoming", "outgoing", "note", "activity"]},
        "private": BOOL,
        "author_role": {"type": "string", "enum": ["customer", "agent", "bot", "system"]},
        "author": PERSON,
        "body": STRING,
        "approved_by": PERSON,
        "token_name": nullable(STRING),
        "created_at": TIME,
        "attachments": described(
            array(ATTACHMENT), "The message's files (teammates download them in the browser)."
        ),
        "auto_submitted": described(
            BOOL,
            "Incoming messages only: the email was sent by a machine (an auto-reply, a list, a "
            "bounce): do not answer it automatically.",
        ),
        "delivery": obj(
            {
                "status": {"type": "string", "enum": ["pending", "sent", "failed"]},
                "attempts": INT,
                "last_error": nullable(STRING),
                "delivered_at": nullable(TIME),
            },
            ("status", "attempts", "last_error", "delivered_at"),
        ),
    },
    ("id", "kind", "private", "author_role", "author", "body", "created_at", "attachments"),
    strict=False,
)
DRAFT = obj(
    {
        "id": ID,
        "conversation_id": ID,
        "status": DRAFT_STATUS,
        "outcome": {
            "type": "string",
            "enum": ["pending", "approved_as_is", "approved_with_edits", "rejected", "superseded"],
        },
        "body": STRING,
        "final_body": nullable(STRING),
        "note_to_reviewer": nullable(STRING),
        "rejection_reason": nullable(STRING),
        "reviewer": PERSON,
        "reviewed_at": nullable(TIME),
        "sent_message_id": nullable(ID),
        "created_at": TIME,
    },
    ("id", "conversation_id", "status", "outcome", "body", "created_at"),
    strict=False,
)
CONTACT = obj(
    {
        "id": ID,
        "name": nullable(STRING),
        "email": nullable(STRING),
        "phone": nullable(STRING),
        "identifier": nullable(STRING),
        "custom_attributes": {"type": "object"},
        "created_at": TIME,
        "updated_at": TIME,
    },
    ("id", "name", "email", "phone", "identifier", "custom_attributes"),
    strict=False,
)
NOTE = obj(
    {"id": ID, "body": STRING, "author": PERSON, "created_at": TIME},
    ("id", "body", "created_at"),
    strict=False,
)
EVENT = obj(
    {
        "id": ID,
        "type": STRING,
        "occurred_at": TIME,
        "conversation_id": nullable(ID),
        "contact_id": nullable(ID),
        "inbox_id": nullable(ID),
        "actor": obj(
            {"type": STRING, "name": nullable(STRING), "is_self": BOOL},
            ("type", "name", "is_self"),
            strict=False,
        ),
        "data": {"type": "object"},
    },
    ("id", "type", "occurred_at", "conversation_id", "inbox_id", "actor", "data"),
    strict=False,
)


def page(key: str, item: dict) -> dict:
    return obj(
        {key: array(item), "next_cursor": nullable(STRING), "has_more": BOOL},
        (key, "next_cursor", "has_more"),
        strict=False,
    )
