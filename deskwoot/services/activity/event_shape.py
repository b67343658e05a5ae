"""The public shape of one event: what poll_events returns and what event webhooks POST.

One function so the feed an agent polls and the webhook a receiver gets cannot drift apart.
The MCP adapter marks customer-written fields as untrusted on top (mcp/views.py).
"""

from __future__ import annotations

from datetime import datetime

# Event data fields that may carry text a customer typed (a subject, their own name…).
CUSTOMER_FIELDS = frozenset({"subject", "name", "email", "phone", "identifier"})


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def public(e, display_ids: dict[int, int], token_id: int | None = None) -> dict:
    """The event row `e` (an Event or a row with its columns) as the feed shows it; the
    conversation by its display id; `is_self` when the reader is the token that caused it."""
    return {
        "id": e.id,
        "type": e.type,
        "occurred_at": iso(e.created_at),
        "conversation_id": display_ids.get(e.conversation_id),
        "contact_id": e.contact_id,
        "inbox_id": e.inbox_id,
        "actor": {
            "type": {"user": "agent", "contact": "customer"}.get(e.actor_type, e.actor_type),
            "name": e.actor_name,
            "is_self": token_id is not None and e.token_id == token_id,
        },
        "data": dict(e.data or {}),
    }
