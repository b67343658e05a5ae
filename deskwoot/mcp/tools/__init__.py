"""MCP tools. Importing this package registers them; TOOL_ORDER fixes `tools/list` order."""

from deskwoot.mcp import registry
from deskwoot.mcp.tools import contacts, conversations, drafts, events, meta  # noqa: F401

# Stable, task-shaped order: orientation, then the queue, drafts, contacts, the feed.
TOOL_ORDER = (
    "whoami",
    "list_inboxes",
    "list_labels",
    "list_conversations",
    "search_conversations",
    "get_conversation",
    "reply_to_conversation",
    "add_private_note",
    "create_draft_reply",
    "list_drafts",
    "update_conversation",
    "assign_conversation",
    "escalate_to_human",
    "list_agents",
    "start_conversation",
    "search_contacts",
    "get_contact",
    "create_contact",
    "update_contact",
    "add_contact_note",
    "poll_events",
)

registry.fix_order(TOOL_ORDER)
