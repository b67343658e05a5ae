"""Event webhooks, outgoing: one feed event POSTed to a subscribed endpoint, signed.

The body was built by the fan-out (services/webhooks/fanout.py) — {"type", "timestamp",
"data": the event as poll_events shows it} — and is sent as it is on every attempt; the
`webhook-id` is the delivery's (evt_<event>_ep<endpoint>). signed_webhook.py signs, sends
and classifies the answer, as for API-inbox replies.
"""

from __future__ import annotations

from deskwoot.channels import signed_webhook
from deskwoot.channels.outcomes import Failed, Outcome
from deskwoot.services.webhooks.deliveries import EventDelivery


def deliver(delivery: EventDelivery, config) -> Outcome:
    if delivery.problem or not delivery.secret:
        return Failed(delivery.problem or "the webhook has no signing secret")
    return signed_webhook.post(
        delivery.url,
        delivery.secret,
        delivery.delivery_id,
        delivery.payload,
        float(config["WEBHOOK_TIMEOUT"]),
    )
