"""The worker's fan-out: new feed events become deliveries, one per endpoint and event.

Not on the request path: a reply's transaction appends its event and nothing more; the
worker, between batches, looks for enabled endpoints whose cursor is behind their workspace's
feed (one read; an idle pass writes nothing) and, for each, in one transaction:

1. locks the endpoint row — PostgreSQL `FOR UPDATE SKIP LOCKED`, so a second worker passes
   over it instead of queueing; SQLite's single writer serialises the rest;
2. reads the events after its cursor that it may see (policy.webhook_reader) and subscribes
   to, in commit order, through the feed's own query (event_feed.poll: up to the high-water
   mark taken first, so an event committed meanwhile is never skipped);
3. inserts a delivery row (outbox, channel "event") per event, with the payload built now —
   a retry or a redelivery later sends the same body, even after the event is pruned;
4. moves the cursor past what it read.

The unique (endpoint_id, event_id) index backs the lock: no event is queued twice for one
endpoint, whatever the workers do.
"""

from __future__ import annotations

from sqlalchemy import func, select

from deskwoot import policy
from deskwoot.database.transactions import write_transaction
from deskwoot.extensions import db
from deskwoot.models import Event, Outbox, WebhookEndpoint, utcnow
from deskwoot.services.activity import event_feed, event_shape
from deskwoot.services.webhooks import EVENT_CHANNEL

_FEED_END = (
    select(func.max(Event.id))
    .where(Event.workspace_id == WebhookEndpoint.workspace_id)
    .correlate(WebhookEndpoint)
    .scalar_subquery()
)


def due_endpoints() -> list[int]:
    """Enabled endpoints whose workspace has events past their cursor."""
    ids = list(
        db.session.execute(
            select(WebhookEndpoint.id)
            .where(WebhookEndpoint.enabled.is_(True), WebhookEndpoint.last_event_id < _FEED_END)
            .order_by(WebhookEndpoint.id)
        ).scalars()
    )
    db.session.rollback()  # end the read: each endpoint's fan-out is its own write
    return ids


def fan_out(batch: int = 500) -> int:
    """Queue the deliveries of every due endpoint; how many were queued."""
    return sum(fan_out_endpoint(endpoint_id, batch) for endpoint_id in due_endpoints())


def fan_out_endpoint(endpoint_id: int, batch: int = 500) -> int:
    """Queue up to `batch` events for one endpoint and advance its cursor; 0 when another
    worker holds it, or it was disabled or deleted meanwhile."""
    with write_transaction() as session:
        endpoint = session.execute(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled.is_(True))
            .with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if endpoint is None:
            return 0
        page = event_feed.poll(
            policy.webhook_reader(endpoint),
            endpoint.last_event_id,
            batch,
            list(endpoint.event_types) or None,
        )
        display_ids = event_feed.display_ids(
            {e.conversation_id for e in page.events if e.conversation_id}
        )
        now = utcnow()
        if page.events:
            session.execute(
                Outbox.__table__.insert(),
                [
                    {
                        "workspace_id": endpoint.workspace_id,
                        "endpoint_id": endpoint.id,
                        "event_id": e.id,
                        "message_id": None,
                        "channel": EVENT_CHANNEL,
                        "payload": payload(e, display_ids),
                        "status": "pending",
                        "attempts": 0,
                        "delivery_id": delivery_id(endpoint.id, e.id),
                        "created_at": now,
                    }
                    for e in page.events
                ],
            )
        endpoint.last_event_id = page.next_after_id
        return len(page.events)


def payload(e, display_ids: dict[int, int]) -> dict:
    """The Standard Webhooks envelope around the event in the feed's public shape."""
    return {
        "type": e.type,
        "timestamp": event_shape.iso(e.created_at),
        "data": event_shape.public(e, display_ids),
    }


def delivery_id(endpoint_id: int, event_id: int) -> str:
    """The webhook-id: one per endpoint and event, the same on every attempt and redelivery."""
    return f"evt_{event_id}_ep{endpoint_id}"
