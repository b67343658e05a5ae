"""One signed webhook POST, per Standard Webhooks: what every webhook deliverer shares.

API-inbox replies (api_webhook.py) and event webhooks (event_webhook.py) differ only in their
payload and where the URL and secret come from; the envelope, the signature, the HTTP client
and how an answer is classified are here, once:

- Headers `webhook-id` (the delivery's id, the same on every attempt, so a receiver drops a
  copy it has seen: we may crash between its 2xx and recording it), `webhook-timestamp` and
  `webhook-signature` (v1, HMAC-SHA256), made by the maintained `standardwebhooks` library
  so any Standard Webhooks implementation verifies them.
- 2xx: delivered. Connection errors, timeouts, HTTP 408, 429 and 5xx: transient, retried by
  the worker (honouring Retry-After). Anything else (4xx, 410 Gone, a 3xx we do not follow):
  permanent.

Every answer is reported with its `Response` (status, a short body snippet, duration), which
the event-webhook delivery log shows.
"""

from __future__ import annotations

import functools
import json
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx2 as httpx
from standardwebhooks import Webhook

from deskwoot.channels.outcomes import Delivered, Failed, Outcome, Response, Retry

TRANSIENT_STATUSES = frozenset({408, 429})
ERROR_BODY_CHARS = 200
USER_AGENT = "Deskwoot-Webhooks/1"


def post(url: str, secret: str, webhook_id: str, payload: dict, timeout: float) -> Outcome:
    """POST `payload` as JSON to `url`, signed with `secret` under `webhook_id`."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    now = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, now, body),
    }
    started = time.monotonic()

    def answered(status: int | None, snippet: str = "") -> Response:
        return Response(status, snippet, int((time.monotonic() - started) * 1000))

    try:
        response = _client().post(
            url, content=body.encode(), headers=headers, timeout=timeout, follow_redirects=False
        )
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:  # before TransportError
        return Failed(f"invalid webhook URL: {exc}", response=answered(None))
    except httpx.TimeoutException:
        return Retry(f"timed out after {timeout:g} s", response=answered(None))
    except httpx.TransportError as exc:  # refused, reset, DNS, TLS
        return Retry(f"connection failed: {exc or type(exc).__name__}", response=answered(None))
    status = response.status_code
    snippet = _snippet(response)
    exchange = answered(status, snippet)
    if 200 <= status < 300:
        return Delivered(response=exchange)
    reason = f"HTTP {status}" + (f": {snippet}" if snippet else "")
    if status in TRANSIENT_STATUSES or status >= 500:
        return Retry(
            reason, after=retry_after(response.headers.get("retry-after")), response=exchange
        )
    return Failed(reason, response=exchange)


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


def _snippet(response) -> str:
    try:
        text = response.text
    except (UnicodeDecodeError, LookupError):  # an odd charset: the bytes, replaced
        text = response.content.decode("utf-8", "replace")
    return " ".join(text.split())[:ERROR_BODY_CHARS]


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
