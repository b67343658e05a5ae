"""Event webhooks: the URLs a workspace's events are POSTed to (services/webhooks/).

Each delivery is an outbox row of channel "event" (models/activity.py: `endpoint_id`,
`event_id`), so the worker's claims, leases, backoff and attempt limit serve them unchanged.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from deskwoot.models.base import Base, JSONType, UTCDateTime, utcnow


class WebhookEndpoint(Base):
    """A receiver subscribed to the events feed, with its own cursor into it."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_ws", "workspace_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    # A Standard Webhooks secret ("whsec_…"), sealed at rest (services/access/sealed.py).
    signing_secret: Mapped[str] = mapped_column(String(200))
    event_types: Mapped[list] = mapped_column(JSONType, default=list)  # empty = every type
    inbox_ids: Mapped[list] = mapped_column(JSONType, default=list)  # empty = every inbox
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Who disabled it: an admin, or None with disabled_at set — the worker, automatically.
    disabled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # Deliveries in a row that ended failed (after their retries); a success resets it.
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    # The fan-out's cursor: the last event id considered (services/webhooks/fanout.py).
    last_event_id: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    created_by = relationship("User", foreign_keys=[created_by_id])
    disabled_by = relationship("User", foreign_keys=[disabled_by_id])

    @property
    def disabled_automatically(self) -> bool:
        return not self.enabled and self.disabled_by_id is None
