"""Appending to the events feed, inside the caller's transaction (ARCHITECTURE §6)."""

from __future__ import annotations

from sqlalchemy import func, select, text

from deskwoot.extensions import db
from deskwoot.models import Conversation, Event, utcnow
from deskwoot.policy import Actor


def append(
    actor: Actor,
    type_: str,
    *,
    conversation: Conversation | None = None,
    contact_id: int | None = None,
    inbox_id: int | None = None,
    data: dict | None = None,
    actor_type: str | None = None,
    actor_id: int | None = None,
    actor_name: str | None = None,
) -> Event:
    """Add one event to the workspace feed; call inside a write transaction."""
    session = db.session
    lock_feed(actor.workspace_id)
    if conversation is not None:
        inbox_id = conversation.inbox_id
        contact_id = contact_id or conversation.contact_id
    event = Event(
        workspace_id=actor.workspace_id,
        inbox_id=inbox_id,
        type=type_,
        conversation_id=conversation.id if conversation is not None else None,
        contact_id=contact_id,
        actor_type=actor_type or actor.sender_type,
        actor_id=actor_id if actor_type else actor.user_id,
        actor_name=actor_name or actor.name,
        token_id=None if actor_type else actor.token_id,
        data=data or {},
        created_at=utcnow(),
    )
    session.add(event)
    return event


def lock_feed(workspace_id: int) -> None:
    """Hold the workspace's feed lock until commit (PostgreSQL; SQLite's single writer
    already serialises). PostgreSQL hands out sequence values before commit, so two writers
    could commit event ids out of order and a poller skip one; serialising appends per
    workspace makes ids visible in id order (ARCHITECTURE §6). Taking it twice is harmless."""
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:ns, :ws)"), {"ns": 0x4457, "ws": workspace_id}
        )


def latest_id(workspace_id: int) -> int:
    return db.session.execute(
        select(func.coalesce(func.max(Event.id), 0)).where(Event.workspace_id == workspace_id)
    ).scalar_one()
