"""API inboxes, outgoing: each reply POSTed to the integrator's webhook, signed.

The payload follows the Standard Webhooks envelope ({"type", "timestamp", "data"}) and is
signed with the maintained `standardwebhooks` library, so a receiver verifies it with any
Standard Webhooks implementation and the inbox's signing secret. The `webhook-id` header is
the message's delivery id, the same on every attempt: a receiver that saw it already (we
crashed between its 2xx and recording it) drops the copy.

Transient failures (connection errors, timeouts, HTTP 408, 429 and 5xx) are retried by the
worker, honouring Retry-After; any other answer outside 2xx fails at once. An API inbox
without a webhook URL keeps the old way: the integrator reads replies from the events feed,
and the message is marked sent with a note that says so.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx2 as httpx
from standardwebhooks import Webhook

from deskwoot.channels.outcomes import Delivered, Failed, Outcome, Retry
from deskwoot.services.delivery.outbox import Outgoing

NO_WEBHOOK = "no webhook configured: read replies through the events feed"
EVENT_TYPE = "message.outgoing"
TRANSIENT_STATUSES = frozenset({408, 429})
ERROR_BODY_CHARS = 200


def payload(outgoing: Outgoing) -> dict:
    """The JSON body: what the integrator needs to pass the reply on to its customer."""
    return {
        "type": EVENT_TYPE,
        "timestamp": _iso(datetime.now(UTC)),
        "data": {
            "message_id": outgoing.message_id,
            "conversation": {"display_id": outgoing.display_id},
            "contact": {
                "id": outgoing.contact_id,
                "name": outgoing.contact_name,
                "email": outgoing.contact_email,
            },
            "body": outgoing.body,
            "sender": {"type": outgoing.sender_type, "name": outgoing.sender_name},
            "created_at": _iso(outgoing.created_at),
        },
    }


def deliver(outgoing: Outgoing, timeout: float = 10.0) -> Outcome:
    if not outgoing.webhook_url:
        return Delivered(note=NO_WEBHOOK)
    if not outgoing.webhook_secret:
        return Failed("the inbox has a webhook URL but no signing secret")
    body = json.dumps(payload(outgoing), separators=(",", ":"), ensure_ascii=False)
    now = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "user-agent": "Deskwoot-Webhooks/1",
        "webhook-id": outgoing.delivery_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(outgoing.webhook_secret).sign(outgoing.delivery_id, now, body),
    }
    try:
        response = _client().post(
            outgoing.webhook_url,
            content=body.encode(),
            headers=headers,
            timeout=timeout,
            follow_redirects=False,
        )
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:  # before TransportError
        return Failed(f"invalid webhook URL: {exc}")
    except httpx.TimeoutException:
        return Retry(f"timed out after {timeout:g} s")
    except httpx.TransportError as exc:  # refused, reset, DNS, TLS
        return Retry(f"connection failed: {exc or type(exc).__name__}")
    status = response.status_code
    if 200 <= status < 300:
        return Delivered()
    reason = f"HTTP {status}" + _excerpt(response)
    if status in TRANSIENT_STATUSES or status >= 500:
        return Retry(reason, after=retry_after(response.headers.get("retry-after")))
    return Failed(reason)


@functools.cache
def _client() -> httpx.Client:
    """One client for the worker's life: building one loads the CA bundle (≈ 20 ms of CPU,
    more than the rest of a delivery — bench/delivery.py measured it), and it keeps
    connections to a receiver alive between deliveries. httpx clients are thread-safe."""
    return httpx.Client(follow_redirects=False)


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent or
    unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _excerpt(response) -> str:
    text = response.text.strip()[:ERROR_BODY_CHARS]
    return f": {text}" if text else ""


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
