"""API inboxes, outgoing: each reply POSTed to the integrator's webhook, signed.

The payload follows the Standard Webhooks envelope ({"type", "timestamp", "data"}); signing,
the HTTP client and how an answer is classified (transient: retried by the worker; anything
else outside 2xx: failed at once) are signed_webhook.py's, shared with the event webhooks.
The `webhook-id` header is the message's delivery id, the same on every attempt. An API inbox
without a webhook URL keeps the old way: the integrator reads replies from the events feed,
and the message is marked sent with a note that says so.
"""

from __future__ import annotations

from datetime import UTC, datetime

from deskwoot.channels import signed_webhook
from deskwoot.channels.outcomes import Delivered, Failed, Outcome
from deskwoot.services.delivery.outbox import Outgoing

NO_WEBHOOK = "no webhook configured: read replies through the events feed"
EVENT_TYPE = "message.outgoing"


def payload(outgoing: Outgoing) -> dict:
    """The JSON body: what the integrator needs to pass the reply on to its customer."""
    return {
        "type": EVENT_TYPE,
        "timestamp": signed_webhook.iso(datetime.now(UTC)),
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
            "created_at": signed_webhook.iso(outgoing.created_at),
        },
    }


def deliver(outgoing: Outgoing, timeout: float = 10.0) -> Outcome:
    if not outgoing.webhook_url:
        return Delivered(note=NO_WEBHOOK)
    if not outgoing.webhook_secret:
        return Failed("the inbox has a webhook URL but no signing secret")
    return signed_webhook.post(
        outgoing.webhook_url,
        outgoing.webhook_secret,
        outgoing.delivery_id,
        payload(outgoing),
        timeout,
    )
