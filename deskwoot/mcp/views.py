"""Plain-dict views of models for tool results; customer-written text is marked Untrusted.

A conversation or message comes as an ORM object (just written) or as a plain row of the
read paths (services/conversations/rows.py), which has the same attribute names."""

from __future__ import annotations

from datetime import datetime

from deskwoot.mcp.untrusted import Untrusted
from deskwoot.models import Contact, ContactNote, Conversation, Draft, Event, Message
from deskwoot.services.activity import event_shape
from deskwoot.services.conversations.attachments import AttachmentRow
from deskwoot.services.conversations.rows import ConversationRow, MessageRow

PREVIEW_CHARS = 160
CUSTOMER_FIELDS = event_shape.CUSTOMER_FIELDS


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def person(user) -> dict | None:
    return {"id": user.id, "name": user.name} if user is not None else None


def untrusted(value: str | None) -> Untrusted | None:
    return Untrusted(value) if value is not None else None


def author_role(message: Message | MessageRow) -> str:
    return {"contact": "customer", "user": "agent", "bot": "bot"}.get(message.sender_type, "system")


def conversation(
    conv: Conversation | ConversationRow,
    last: Message | MessageRow | None = None,
    detail: bool = False,
) -> dict:
    contact = conv.contact
    out = {
        "display_id": conv.display_id,
        "subject": untrusted(conv.subject),
        "status": conv.status,
        "snoozed_until": iso(conv.snoozed_until),
        "priority": conv.priority,
        "inbox": {"id": conv.inbox.id, "name": conv.inbox.name},
        "contact": {
            "id": contact.id,
            "name": untrusted(contact.name),
            "email": untrusted(contact.email),
        },
        "assignee": person(conv.assignee),
        "labels": [label.name for label in conv.labels],
        "handoff": conv.handoff,
        "last_message_preview": None,
        "last_message_role": None,
        "last_activity_at": iso(conv.last_activity_at),
    }
    if last is not None:
        preview = last.body[:PREVIEW_CHARS]
        role = author_role(last)
        out["last_message_preview"] = Untrusted(preview) if role == "customer" else preview
        out["last_message_role"] = role
    if detail:
        out["custom_attributes"] = conv.custom_attributes or {}
        out["handoff_reason"] = conv.handoff_reason
        out["created_at"] = iso(conv.created_at)
    return out


def message(msg: Message | MessageRow) -> dict:
    role = author_role(msg)
    if msg.sender_type == "contact":
        author = (
            {"id": msg.sender_contact.id, "name": untrusted(msg.sender_contact.name)}
            if msg.sender_contact
            else None
        )
    else:
        author = person(msg.sender_user)
    return {
        "id": msg.id,
        "kind": msg.kind,
        "private": msg.kind == "note",
        "author_role": role,
        "author": author,
        "body": Untrusted(msg.body) if role == "customer" else msg.body,
        "approved_by": person(msg.approved_by),
        "token_name": msg.token.name if msg.token is not None else None,
        "created_at": iso(msg.created_at),
        "attachments": [_attachment(a, role) for a in getattr(msg, "attachments", ())],
        **_delivery(msg),
        **(
            {"auto_submitted": getattr(msg, "auto_submitted", False)}
            if msg.kind == "incoming"
            else {}
        ),
    }


def _attachment(a: AttachmentRow, role: str) -> dict:
    """An attachment as the agent sees it (no bytes: the teammates download them)."""
    return {
        "id": a.id,
        "filename": Untrusted(a.filename) if role == "customer" else a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "skipped": a.skipped,
    }


def _delivery(msg: Message | MessageRow) -> dict:
    """An outgoing message's delivery, when the row was read with it (the read paths)."""
    state = getattr(msg, "delivery", None)
    if state is None:
        return {}
    return {
        "delivery": {
            "status": state.status,
            "attempts": state.attempts,
            "last_error": state.last_error,
            "delivered_at": iso(state.delivered_at),
        }
    }


def draft(d: Draft, display_id: int) -> dict:
    if d.status == "approved":
        outcome = "approved_with_edits" if d.final_body is not None else "approved_as_is"
    else:
        outcome = d.status
    return {
        "id": d.id,
        "conversation_id": display_id,
        "status": d.status,
        "outcome": outcome,
        "body": d.body,
        "final_body": d.final_body
        if d.final_body is not None
        else (d.body if d.status == "approved" else None),
        "note_to_reviewer": d.note_to_reviewer,
        "rejection_reason": d.rejection_reason,
        "reviewer": person(d.reviewer),
        "reviewed_at": iso(d.reviewed_at),
        "sent_message_id": d.sent_message_id,
        "created_at": iso(d.created_at),
    }


def contact(c: Contact) -> dict:
    return {
        "id": c.id,
        "name": untrusted(c.name),
        "email": untrusted(c.email),
        "phone": untrusted(c.phone),
        "identifier": untrusted(c.identifier),
        "custom_attributes": c.custom_attributes or {},
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
    }


def note(n: ContactNote) -> dict:
    return {"id": n.id, "body": n.body, "author": person(n.author), "created_at": iso(n.created_at)}


def event(e: Event, display_ids: dict[int, int], token_id: int | None) -> dict:
    """The public event shape (services/activity/event_shape.py), customer text marked."""
    out = event_shape.public(e, display_ids, token_id)
    if e.actor_type == "contact" and e.actor_name:
        out["actor"]["name"] = Untrusted(e.actor_name)
    out["data"] = {
        k: Untrusted(v) if k in CUSTOMER_FIELDS and isinstance(v, str) else v
        for k, v in out["data"].items()
    }
    return out
