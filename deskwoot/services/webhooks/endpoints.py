"""Settings → Webhooks: the endpoints an admin subscribes to the events feed.

Admins only, through the browser (policy.webhook_endpoints): the MCP server and the REST API
never manage webhooks. Every change is audited (webhook.created, .updated, .secret_rotated,
.disabled, .enabled, .deleted). The signing secret is a Standard Webhooks "whsec_" secret,
sealed at rest and returned only when issued (created, rotated) for the caller to show once.

A new endpoint, and one enabled again, starts at the current end of the feed: it gets the
events that happen from then on, never a backlog.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import func, select

from deskwoot import policy
from deskwoot.database.transactions import write_transaction
from deskwoot.errors import Conflict, Invalid
from deskwoot.extensions import db
from deskwoot.models import WebhookEndpoint, utcnow
from deskwoot.policy import Actor
from deskwoot.services.access import sealed
from deskwoot.services.activity import audit_recorder as audit
from deskwoot.services.activity import event_recorder
from deskwoot.services.activity.event_feed import EVENT_TYPES
from deskwoot.services.directory.inboxes import new_webhook_secret

MAX_ENDPOINTS = 20  # per workspace: each one is a fan-out per event
MAX_URL = 2000
MAX_DESCRIPTION = 200


@dataclass(frozen=True)
class Issued:
    """An endpoint and its new signing secret, to be shown once."""

    endpoint: WebhookEndpoint
    secret: str


def list_endpoints(actor: Actor) -> list[WebhookEndpoint]:
    return list(
        db.session.execute(policy.webhook_endpoints(actor).order_by(WebhookEndpoint.id)).scalars()
    )


def get_endpoint(actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    return policy.get_webhook_endpoint(actor, endpoint_id)


def create(
    actor: Actor,
    url: str,
    description: str = "",
    event_types: list[str] | tuple = (),
    inbox_ids: list[int] | tuple = (),
) -> Issued:
    """Subscribe `url` to the feed (every type when `event_types` is empty, every inbox when
    `inbox_ids` is), starting at the feed's current end."""
    policy.webhook_endpoints(actor)  # admins only, before anything is looked at
    url = check_url(url)
    secret = new_webhook_secret()
    with write_transaction() as session:
        types, inboxes = check_types(event_types), _check_inboxes(actor, inbox_ids)
        count = session.execute(
            select(func.count()).select_from(policy.webhook_endpoints(actor).subquery())
        ).scalar_one()
        if count >= MAX_ENDPOINTS:
            raise Conflict(f"A workspace can have at most {MAX_ENDPOINTS} webhooks.")
        endpoint = WebhookEndpoint(
            workspace_id=actor.workspace_id,
            url=url,
            description=_description(description),
            signing_secret=sealed.seal(secret),
            event_types=types,
            inbox_ids=inboxes,
            enabled=True,
            consecutive_failures=0,
            last_event_id=_feed_end(actor.workspace_id),
            created_by_id=actor.user_id,
            created_at=utcnow(),
        )
        session.add(endpoint)
        session.flush()
        audit.record(actor, "webhook.created", target=target(endpoint), detail=_summary(endpoint))
    return Issued(endpoint, secret)


def update(
    actor: Actor,
    endpoint_id: int,
    *,
    url: str,
    description: str,
    event_types: list[str] | tuple,
    inbox_ids: list[int] | tuple,
) -> WebhookEndpoint:
    """Change an endpoint's URL, description, event types or inboxes (the secret stays)."""
    policy.webhook_endpoints(actor)
    url = check_url(url)
    with write_transaction():
        endpoint = policy.get_webhook_endpoint(actor, endpoint_id, lock=True)
        before = _summary(endpoint)
        endpoint.url = url
        endpoint.description = _description(description)
        endpoint.event_types = check_types(event_types)
        endpoint.inbox_ids = _check_inboxes(actor, inbox_ids)
        after = _summary(endpoint)
        if after != before:
            endpoint.updated_at = utcnow()
            audit.record(
                actor,
                "webhook.updated",
                target=target(endpoint),
                detail=f"{before} → {after}"[:500],
            )
    return endpoint


def rotate_secret(actor: Actor, endpoint_id: int) -> Issued:
    """A new signing secret, shown once; deliveries from now on (retries too) use it only."""
    policy.webhook_endpoints(actor)
    secret = new_webhook_secret()
    with write_transaction():
        endpoint = policy.get_webhook_endpoint(actor, endpoint_id, lock=True)
        endpoint.signing_secret = sealed.seal(secret)
        endpoint.updated_at = utcnow()
        audit.record(actor, "webhook.secret_rotated", target=target(endpoint))
    return Issued(endpoint, secret)


def disable(actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    """Stop delivering: no new deliveries, and the pending ones end failed as they come up."""
    policy.webhook_endpoints(actor)
    with write_transaction():
        endpoint = policy.get_webhook_endpoint(actor, endpoint_id, lock=True)
        if not endpoint.enabled:
            return endpoint
        switch_off(endpoint, f"Disabled by {actor.name}.", by_user_id=actor.user_id)
        audit.record(actor, "webhook.disabled", target=target(endpoint), detail="by an admin")
    return endpoint


def switch_off(endpoint: WebhookEndpoint, reason: str, by_user_id: int | None) -> None:
    """Mark `endpoint` disabled (inside the caller's transaction, the row locked)."""
    endpoint.enabled = False
    endpoint.disabled_at = utcnow()
    endpoint.disabled_by_id = by_user_id
    endpoint.disabled_reason = reason[:1000]


def enable(actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    """Deliver again, from the current end of the feed: the events it missed while disabled
    are not sent (the log's Redeliver sends a failed one again)."""
    policy.webhook_endpoints(actor)
    with write_transaction():
        endpoint = policy.get_webhook_endpoint(actor, endpoint_id, lock=True)
        if endpoint.enabled:
            return endpoint
        previous = endpoint.disabled_reason or ""
        endpoint.enabled = True
        endpoint.disabled_at = None
        endpoint.disabled_by_id = None
        endpoint.disabled_reason = None
        endpoint.consecutive_failures = 0
        endpoint.last_event_id = _feed_end(endpoint.workspace_id)
        audit.record(
            actor,
            "webhook.enabled",
            target=target(endpoint),
            detail=f"was disabled: {previous}"[:500],
        )
    return endpoint


def delete(actor: Actor, endpoint_id: int) -> None:
    """Delete an endpoint and its delivery log; pending deliveries go with it."""
    policy.webhook_endpoints(actor)
    with write_transaction() as session:
        endpoint = policy.get_webhook_endpoint(actor, endpoint_id, lock=True)
        audit.record(actor, "webhook.deleted", target=target(endpoint))
        session.delete(endpoint)


def signing_secret_of(endpoint: WebhookEndpoint) -> str:
    """The secret in the clear, for signing (raises sealed.SealBroken if SECRET_KEY changed)."""
    return sealed.unseal(endpoint.signing_secret)


def check_url(url: str | None) -> str:
    """An endpoint URL as stored: http(s) with a host, no credentials, at most 2000
    characters. Credentials would sit in the clear in the database and in every log line;
    receivers authenticate deliveries by their signature instead."""
    url = (url or "").strip()
    if not url:
        raise Invalid("Enter the URL to deliver events to.", field="url")
    if len(url) > MAX_URL:
        raise Invalid(f"The URL is longer than {MAX_URL} characters.", field="url")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise Invalid("The URL must not contain spaces or control characters.", field="url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise Invalid("That is not a valid URL.", field="url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("The URL must be an http:// or https:// address.", field="url")
    if parts.username is not None or parts.password is not None:
        raise Invalid(
            "Remove the user name and password from the URL: receivers check each delivery's "
            "signature instead.",
            field="url",
        )
    return url


def check_types(event_types) -> list[str]:
    types = sorted(set(event_types or ()))
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown:
        raise Invalid(f"Unknown event type(s): {', '.join(unknown)}.", field="event_types")
    return types


def _check_inboxes(actor: Actor, inbox_ids) -> list[int]:
    ids = sorted(set(inbox_ids or ()))
    for inbox_id in ids:
        policy.get_inbox(actor, inbox_id)  # NotFound for another workspace's
    return ids


def _description(text: str | None) -> str:
    text = " ".join((text or "").split())
    if len(text) > MAX_DESCRIPTION:
        raise Invalid(
            f"Keep the description under {MAX_DESCRIPTION} characters.", field="description"
        )
    return text


def _feed_end(workspace_id: int) -> int:
    # The feed lock first (PostgreSQL): an event still being committed gets an id above
    # the one read here, so the new cursor neither skips nor backfills (ARCHITECTURE §6).
    event_recorder.lock_feed(workspace_id)
    return event_recorder.latest_id(workspace_id)


def target(endpoint: WebhookEndpoint) -> str:
    return f"webhook {endpoint.id} ({urlsplit(endpoint.url).hostname})"[:200]


def _summary(endpoint: WebhookEndpoint) -> str:
    types = ",".join(endpoint.event_types) or "all events"
    inboxes = ",".join(map(str, endpoint.inbox_ids)) or "all"
    return f"host {urlsplit(endpoint.url).hostname}; {types}; inboxes {inboxes}"
