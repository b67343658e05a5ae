"""What happened: the events feed, the audit trail, the outbox, and the idempotency keys that
keep an agent's retried write from happening twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from deskwoot.models.base import Base, JSONType, UTCDateTime, utcnow

AUDIT_OUTCOMES = ("ok", "denied", "error", "replayed")


class Event(Base):
    """One fact in a workspace's feed; ids only grow, so the id is the cursor (ARCHITECTURE §6)."""

    __tablename__ = "events"
    # AUTOINCREMENT on SQLite: an id is never reused, even after the newest row is pruned.
    __table_args__ = (
        Index("ix_events_ws_id", "workspace_id", "id"),
        Index("ix_events_created", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inboxes.id", ondelete="SET NULL"))
    type: Mapped[str] = mapped_column(String(40))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    actor_type: Mapped[str] = mapped_column(String(8))  # contact / user / bot / system
    actor_id: Mapped[int | None]
    actor_name: Mapped[str | None] = mapped_column(String(200))
    token_id: Mapped[int | None]
    data: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_ws_id", "workspace_id", "id"),
        Index("ix_audit_ws_token", "workspace_id", "token_id", "id"),
        Index("ix_audit_ws_action", "workspace_id", "action", "id"),
        Index("ix_audit_ws_outcome", "workspace_id", "outcome", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    actor_type: Mapped[str] = mapped_column(String(8))  # user / bot / system
    actor_id: Mapped[int | None]
    actor_name: Mapped[str | None] = mapped_column(String(200))
    token_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(8), default="ok")
    detail: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # How many occurrences the row stands for: 1, except for requests refused at the MCP
    # gate, which are counted on one row per token, reason and minute
    # (services/activity/audit_recorder.py).
    # A server default only: a Python-side default would make every prebuilt INSERT that
    # leaves the column out take SQLAlchemy's slower path (database/prebuilt.py).
    count: Mapped[int] = mapped_column(server_default="1")


class Outbox(Base):
    """A message waiting for delivery on its channel, and how its delivery went.

    The row is written in the message's own transaction (services/conversations/steps.py);
    the delivery worker (deskwoot/delivery/) claims due rows under a lease, hands them to the
    channel, and marks them `sent` or `failed` (ARCHITECTURE §8). `delivery_id` is the
    message's idempotent identity on the wire (the webhook-id): the same on every attempt,
    so a redelivery after a crash is recognisable as the same message by the receiver.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status", "status", "id"),
        # The claim query: pending rows that are due, oldest first.
        Index("ix_outbox_due", "status", "next_attempt_at", "id"),
        Index("ix_outbox_message", "message_id"),
        # Event webhooks: one delivery per endpoint and event, however many workers fan out
        # (NULL event ids — test deliveries — never collide); and each endpoint's log.
        Index("ix_outbox_endpoint_event", "endpoint_id", "event_id", unique=True),
        Index("ix_outbox_endpoint", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Both None for the product's own mail (channel "mail": invitations, password resets),
    # whose recipient, subject and text are in `payload`.
    workspace_id: Mapped[int | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    # Event webhooks (channel "event", services/webhooks/): the endpoint and the event; no
    # message, the body is `payload`. The event id is kept as a number, not a foreign key:
    # the log outlives the event's retention.
    endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    event_id: Mapped[int | None]
    channel: Mapped[str] = mapped_column(String(16))  # the inbox's channel, "mail" or "event"
    payload: Mapped[dict | None] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending/sent/failed
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivery_id: Mapped[str | None] = mapped_column(String(64))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: due now
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last attempt's HTTP answer (webhook channels): status (None: no answer), a short
    # body snippet and how long it took — the event webhooks' delivery log shows them.
    response_code: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(String(200))
    duration_ms: Mapped[int | None]


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("workspace_id", "token_id", "key"),
        Index("ix_idempotency_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    token_id: Mapped[int] = mapped_column(ForeignKey("mcp_tokens.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    token = relationship("McpToken")
