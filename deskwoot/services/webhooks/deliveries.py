"""Event webhook deliveries: what the channel gets, what the receiver answered, and the
endpoint's log with Redeliver and Send test event.

A delivery is an outbox row of channel "event" (fanout.py writes them); the worker claims,
retries and concludes it like any other row (services/delivery/outbox.py), and calls
`concluded` in the same transaction as the final outcome, which keeps the endpoint's run of
failures:

- a delivery that ends `sent` resets the run;
- one that ends `failed` (a permanent 4xx at once, or a transient failure after the worker's
  last attempt) adds one; at WEBHOOK_DISABLE_AFTER in a row the endpoint is disabled;
- HTTP 410 Gone disables it at once: that is how a Standard Webhooks receiver unsubscribes.

The disabling is audited as the worker's (webhook.disabled) and shown on Settings → Webhooks.
Deliveries still pending for a disabled endpoint end failed without a request.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from deskwoot import policy
from deskwoot.database.transactions import write_transaction
from deskwoot.errors import Conflict, NotFound
from deskwoot.extensions import db
from deskwoot.models import Outbox, WebhookEndpoint, utcnow
from deskwoot.policy import Actor
from deskwoot.services.access.sealed import SealBroken
from deskwoot.services.activity import audit_recorder as audit
from deskwoot.services.webhooks import EVENT_CHANNEL, TEST_EVENT_TYPE, endpoints

WORKER_NAME = "Delivery worker"
DISABLED = "the webhook is disabled"
PER_PAGE = 25


@dataclass(frozen=True)
class EventDelivery:
    """One claimed event delivery with everything the channel needs."""

    outbox_id: int
    delivery_id: str
    attempts: int
    channel: str
    endpoint_id: int
    url: str
    secret: str | None
    payload: dict
    # Why it cannot be sent at all (the endpoint is disabled, its secret cannot be opened):
    # the row fails with it, without a request.
    problem: str | None = None


def load(outbox: Outbox) -> EventDelivery | None:
    """The claimed row as an EventDelivery; None when its endpoint is gone."""
    endpoint = db.session.get(WebhookEndpoint, outbox.endpoint_id)
    if endpoint is None:
        return None
    problem = None if endpoint.enabled else DISABLED
    secret = None
    try:
        secret = endpoints.signing_secret_of(endpoint)
    except SealBroken:
        problem = problem or (
            "the signing secret cannot be decrypted with this server's SECRET_KEY "
            "(was it changed?): rotate it in Settings → Webhooks"
        )
    return EventDelivery(
        outbox_id=outbox.id,
        delivery_id=outbox.delivery_id,
        attempts=outbox.attempts,
        channel=outbox.channel,
        endpoint_id=endpoint.id,
        url=endpoint.url,
        secret=secret,
        payload=outbox.payload or {},
        problem=problem,
    )


def lock_endpoint_of(session, outbox_id: int) -> None:
    """Lock the endpoint of an event delivery before the delivery row itself (PostgreSQL).

    Everything that locks both takes the endpoint first — the fan-out, Redeliver, deleting an
    endpoint (whose rows go with it) and, through this, the worker recording an outcome — so
    two of them can never each hold the lock the other waits for."""
    endpoint_id = session.execute(
        select(Outbox.endpoint_id).where(Outbox.id == outbox_id)
    ).scalar_one_or_none()
    if endpoint_id is not None:
        session.execute(
            select(WebhookEndpoint.id).where(WebhookEndpoint.id == endpoint_id).with_for_update()
        )


def concluded(session, outbox: Outbox, status: str, error: str | None) -> None:
    """Keep the endpoint's run of failures after `outbox` ended `status` (inside the
    worker's transaction that records it, which locked the endpoint: lock_endpoint_of)."""
    endpoint = session.get(WebhookEndpoint, outbox.endpoint_id, populate_existing=True)
    if endpoint is None or not endpoint.enabled:
        return
    if status == "sent":
        endpoint.consecutive_failures = 0
        return
    endpoint.consecutive_failures += 1
    limit = int(current_app.config["WEBHOOK_DISABLE_AFTER"])
    if outbox.response_code == 410:
        reason = (
            "The receiver answered 410 Gone, which asks a sender to stop "
            f"(delivery {outbox.delivery_id})."
        )
    elif endpoint.consecutive_failures >= limit:
        reason = (
            f"{endpoint.consecutive_failures} deliveries in a row failed; the last "
            f"({outbox.delivery_id}): {error or 'no reason given'}"
        )
    else:
        return
    endpoints.switch_off(endpoint, reason, by_user_id=None)
    audit.record(
        policy.Actor(
            workspace_id=endpoint.workspace_id,
            user_id=None,
            kind="system",
            name=WORKER_NAME,
            via="worker",
        ),
        "webhook.disabled",
        target=endpoints.target(endpoint),
        detail=reason[:500],
    )


@dataclass(frozen=True)
class LogPage:
    deliveries: list[Outbox]
    page: int
    has_more: bool


def log(actor: Actor, endpoint_id: int, page: int = 1, per_page: int = PER_PAGE) -> LogPage:
    """An endpoint's deliveries, newest first."""
    endpoint = policy.get_webhook_endpoint(actor, endpoint_id)
    rows = list(
        db.session.execute(
            select(Outbox)
            .where(Outbox.endpoint_id == endpoint.id)
            .order_by(Outbox.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page + 1)
        ).scalars()
    )
    return LogPage(rows[:per_page], page, len(rows) > per_page)


def _delivery(session, actor: Actor, endpoint_id: int, outbox_id: int):
    endpoint = policy.get_webhook_endpoint(actor, endpoint_id, lock=True)
    outbox = session.execute(
        select(Outbox)
        .where(Outbox.id == outbox_id, Outbox.endpoint_id == endpoint.id)
        .with_for_update()
    ).scalar_one_or_none()
    if outbox is None:
        raise NotFound(f"Delivery {outbox_id} was not found.")
    return endpoint, outbox


def redeliver(actor: Actor, endpoint_id: int, outbox_id: int) -> Outbox:
    """Queue a finished delivery again, due now, with the same webhook-id and body (the
    receiver recognises a copy it already took). Its attempt count starts over."""
    policy.webhook_endpoints(actor)
    with write_transaction() as session:
        endpoint, outbox = _delivery(session, actor, endpoint_id, outbox_id)
        if not endpoint.enabled:
            raise Conflict("This webhook is disabled: enable it first.", reason="disabled")
        if outbox.status == "pending":
            raise Conflict("That delivery is still being sent.", reason="pending")
        previous = f"{outbox.status} after {outbox.attempts} attempt(s)"
        outbox.status = "pending"
        outbox.attempts = 0
        outbox.next_attempt_at = None
        outbox.sent_at = None
        outbox.failed_at = None
        outbox.claimed_by = None
        outbox.claimed_until = None
        audit.record(
            actor,
            "webhook.redelivery_requested",
            target=endpoints.target(endpoint),
            detail=f"{outbox.delivery_id}: {previous}"[:500],
        )
    return outbox


def send_test(actor: Actor, endpoint_id: int) -> Outbox:
    """Queue a `webhook.test` event for the endpoint: a signed delivery the receiver can
    check, without waiting for something to happen in the desk."""
    policy.webhook_endpoints(actor)
    with write_transaction() as session:
        endpoint = policy.get_webhook_endpoint(actor, endpoint_id)
        if not endpoint.enabled:
            raise Conflict("This webhook is disabled: enable it first.", reason="disabled")
        now = utcnow()
        outbox = Outbox(
            workspace_id=endpoint.workspace_id,
            endpoint_id=endpoint.id,
            event_id=None,
            channel=EVENT_CHANNEL,
            payload={
                "type": TEST_EVENT_TYPE,
                "timestamp": now.isoformat().replace("+00:00", "Z"),
                "data": {"endpoint_id": endpoint.id, "sent_by": actor.name},
            },
            status="pending",
            attempts=0,
            delivery_id=f"test_{secrets.token_hex(8)}",
            created_at=now,
        )
        session.add(outbox)
        audit.record(actor, "webhook.test_sent", target=endpoints.target(endpoint))
    return outbox
