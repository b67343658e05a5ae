"""The REST API's route table (ARCHITECTURE §14): one entry per operation.

Each operation is one MCP tool from deskwoot/mcp/registry.py: the tool's inputSchema is the
operation's parameters and body, its outputSchema the success body, its scope the scope the
token needs, its idempotency rule whether an Idempotency-Key is required. So the REST API
covers exactly what MCP covers, and cannot drift from it. Arguments named in the path come
from the path; on GET every other argument is a query parameter, on every other method a field
of the JSON body; `idempotency_key` is the Idempotency-Key header.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

PREFIX = "/api/v1"


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # under PREFIX, in OpenAPI's template syntax
    operation_id: str
    tool: str
    tag: str
    summary: str
    status: int = 200  # 201 for creates
    # Where a created resource can be read (for Location), from the structured result.
    location: Callable[[dict], str] | None = None
    etag: bool = False  # a single resource: strong ETag, If-None-Match → 304
    # A list: the result field holding the next page's cursor and the query parameter that
    # takes it back (for the Link header).
    next_cursor: tuple[str, str] | None = None

    @property
    def path_args(self) -> tuple[str, ...]:
        return tuple(re.findall(r"{(\w+)}", self.path))

    @property
    def rule(self) -> str:
        """The Flask URL rule. Ids match digits only (views.Digits), so /conversations/search
        is never read as conversation "search" (a PATCH there is a 405, not a bad id); the
        digits stay text for the schema to judge (0 or 10^30 is a 422 naming the argument)."""
        return re.sub(r"{(\w+)}", r"<digits:\1>", self.path)

    @property
    def takes_body(self) -> bool:
        return self.method != "GET"


def _conversation_url(result: dict) -> str:
    return f"{PREFIX}/conversations/{result['conversation']['display_id']}"


def _contact_url(result: dict) -> str:
    return f"{PREFIX}/contacts/{result['contact']['id']}"


PAGE = ("next_cursor", "cursor")
CONVERSATION = "/conversations/{conversation_id}"
CONTACT = "/contacts/{contact_id}"

ROUTES: tuple[Route, ...] = (
    # Orientation
    Route("GET", "/me", "getMe", "whoami", "Workspace", "Who this token is", etag=True),
    Route("GET", "/inboxes", "listInboxes", "list_inboxes", "Workspace", "List inboxes"),
    Route("GET", "/labels", "listLabels", "list_labels", "Workspace", "List labels"),
    Route("GET", "/agents", "listAgents", "list_agents", "Workspace", "List teammates"),
    # The queue
    Route(
        "GET",
        "/conversations",
        "listConversations",
        "list_conversations",
        "Conversations",
        "List conversations",
        next_cursor=PAGE,
    ),
    Route(
        "GET",
        "/conversations/search",
        "searchConversations",
        "search_conversations",
        "Conversations",
        "Search conversations",
        next_cursor=PAGE,
    ),
    Route(
        "GET",
        CONVERSATION,
        "getConversation",
        "get_conversation",
        "Conversations",
        "Get a conversation and a page of its messages",
        etag=True,
        next_cursor=("messages_next_cursor", "messages_cursor"),
    ),
    Route(
        "PATCH",
        CONVERSATION,
        "updateConversation",
        "update_conversation",
        "Conversations",
        "Update status, priority, labels or custom attributes",
    ),
    Route(
        "POST",
        CONVERSATION + "/messages",
        "replyToConversation",
        "reply_to_conversation",
        "Conversations",
        "Reply to the customer",
        status=201,
    ),
    Route(
        "POST",
        CONVERSATION + "/notes",
        "addPrivateNote",
        "add_private_note",
        "Conversations",
        "Add a private note",
        status=201,
    ),
    Route(
        "PUT",
        CONVERSATION + "/assignee",
        "assignConversation",
        "assign_conversation",
        "Conversations",
        "Assign or unassign",
    ),
    Route(
        "POST",
        CONVERSATION + "/escalation",
        "escalateToHuman",
        "escalate_to_human",
        "Conversations",
        "Escalate to a human",
    ),
    Route(
        "POST",
        "/conversations",
        "startConversation",
        "start_conversation",
        "Conversations",
        "Start an outbound conversation",
        status=201,
        location=_conversation_url,
    ),
    # Drafts for approval
    Route(
        "POST",
        CONVERSATION + "/drafts",
        "createDraftReply",
        "create_draft_reply",
        "Drafts",
        "Draft a reply for a teammate to approve",
        status=201,
    ),
    Route(
        "GET", "/drafts", "listDrafts", "list_drafts", "Drafts", "List my drafts", next_cursor=PAGE
    ),
    # Contacts
    Route(
        "GET",
        "/contacts/search",
        "searchContacts",
        "search_contacts",
        "Contacts",
        "Search contacts",
        next_cursor=PAGE,
    ),
    Route("GET", CONTACT, "getContact", "get_contact", "Contacts", "Get a contact", etag=True),
    Route(
        "POST",
        "/contacts",
        "createContact",
        "create_contact",
        "Contacts",
        "Create a contact",
        status=201,
        location=_contact_url,
    ),
    Route("PATCH", CONTACT, "updateContact", "update_contact", "Contacts", "Update a contact"),
    Route(
        "POST",
        CONTACT + "/notes",
        "addContactNote",
        "add_contact_note",
        "Contacts",
        "Add a note to a contact",
        status=201,
    ),
    # The feed
    Route("GET", "/events", "pollEvents", "poll_events", "Events", "Poll events", next_cursor=PAGE),
)

TAGS = (
    ("Workspace", "Who the token is and what it can reach: inboxes, labels, teammates."),
    ("Conversations", "The queue: list, search, read, reply, note, manage, assign, escalate."),
    ("Drafts", "Replies a teammate approves before the customer sees them."),
    ("Contacts", "The customers: search, read, create, update, note."),
    ("Events", "What changed since you last looked, in commit order."),
)
