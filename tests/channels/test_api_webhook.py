"""API-inbox webhooks, delivered by the worker to a real HTTP receiver (tests/delivery/
receiver.py): Standard Webhooks signatures, retries with one delivery id, permanent failures,
timeouts, Retry-After, and inboxes with no webhook or no deliverer yet."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from deskwoot.delivery.worker import Worker
from deskwoot.errors import Invalid
from deskwoot.extensions import db
from deskwoot.models import Event, Inbox, Outbox, utcnow
from deskwoot.services.directory import inboxes
from tests.delivery.desk import Desk, app_config  # noqa: F401 (app_config: a fixture)
from tests.delivery.receiver import Answer, Receiver


def events(type_: str) -> list[Event]:
    return list(db.session.execute(select(Event).where(Event.type == type_)).scalars())


def test_a_reply_is_posted_signed_per_standard_webhooks(app):
    with Receiver() as receiver:
        desk = Desk(receiver.url)
        message = desk.reply("Your refund is on its way.")
        assert Worker(app).run(once=True) == 1
    [request] = receiver.requests
    stored = db.session.get(Inbox, desk.inbox.id)
    assert stored.webhook_secret.startswith("sealed:v1:")  # never in the clear at rest
    secret = inboxes.webhook_secret_of(stored)
    assert secret.startswith("whsec_")
    verified = Webhook(secret).verify(request.body, request.headers)
    assert verified == json.loads(request.body)
    assert request.headers["webhook-id"] == f"msg_{message.id}"
    data = verified["data"]
    assert verified["type"] == "message.outgoing"
    assert data["message_id"] == message.id
    assert data["body"] == "Your refund is on its way."
    assert data["sender"] == {"type": "user", "name": "Ada Agent"}
    assert set(data["contact"]) == {"id", "name", "email"}
    assert data["conversation"]["display_id"] >= 1 and data["created_at"].endswith("Z")
    row = desk.outbox(message.id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
    assert row.sent_at is not None and row.claimed_by is None
    [delivered] = events("message.delivered")
    assert delivered.data["message_id"] == message.id and delivered.actor_type == "system"


def test_a_server_error_is_retried_and_delivered_once_with_the_same_id(app):
    with Receiver(Answer(500), Answer(503)) as receiver:
        desk = Desk(receiver.url)
        message = desk.reply()
        Worker(app).run(once=True)
    assert [r.status for r in [desk.outbox(message.id)]] == ["sent"]
    assert len(receiver.requests) == 3
    assert {r.headers["webhook-id"] for r in receiver.requests} == {f"msg_{message.id}"}
    assert desk.outbox(message.id).attempts == 3
    assert len(events("message.delivered")) == 1 and events("message.failed") == []


def test_gone_fails_at_once_with_the_reason(app):
    with Receiver(Answer(410)) as receiver:
        desk = Desk(receiver.url)
        message = desk.reply()
        Worker(app).run(once=True)
    row = desk.outbox(message.id)
    assert len(receiver.requests) == 1
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "HTTP 410")
    assert row.failed_at is not None
    [failed] = events("message.failed")
    assert failed.data["reason"] == "HTTP 410"


def test_a_timeout_is_retried_up_to_the_limit(app):
    app.config["DELIVERY_MAX_ATTEMPTS"] = 2
    with Receiver(Answer(delay=2), Answer(delay=2)) as receiver:
        desk = Desk(receiver.url)
        message = desk.reply()
        Worker(app).run(once=True)
    row = desk.outbox(message.id)
    assert len(receiver.requests) == 2
    assert row.status == "failed"
    assert row.last_error == "gave up after 2 attempts: timed out after 1 s"


def test_too_many_requests_waits_as_long_as_retry_after_says(app):
    with Receiver(Answer(429, {"Retry-After": "120"})) as receiver:
        desk = Desk(receiver.url)
        message = desk.reply()
        Worker(app).run(once=True)
    row = desk.outbox(message.id)
    assert len(receiver.requests) == 1
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 429")
    wait = row.next_attempt_at - utcnow()
    assert timedelta(seconds=100) < wait <= timedelta(seconds=120)


def test_connection_refused_is_transient(app):
    with Receiver() as receiver:
        url = receiver.url
    desk = Desk(url)  # nobody listens there any more
    app.config["DELIVERY_BACKOFF_BASE"] = 30
    message = desk.reply()
    Worker(app).run(once=True)
    row = desk.outbox(message.id)
    assert row.status == "pending" and row.last_error.startswith("connection failed")


def test_an_api_inbox_without_a_webhook_says_replies_are_read_from_the_feed(app):
    desk = Desk(None)
    message = desk.reply()
    Worker(app).run(once=True)
    row = desk.outbox(message.id)
    assert row.status == "sent"
    assert row.last_error == "no webhook configured: read replies through the events feed"


def test_channels_without_a_deliverer_are_left_alone(app):
    desk = Desk(None)
    message = desk.reply()
    db.session.execute(
        Outbox.__table__.update().where(Outbox.message_id == message.id).values(channel="web")
    )
    db.session.commit()
    assert Worker(app).run(once=True) == 0
    row = desk.outbox(message.id)
    assert (row.status, row.attempts, row.claimed_by) == ("pending", 0, None)


def test_only_api_inboxes_take_an_http_webhook_url(app):
    desk = Desk(None)
    with pytest.raises(Invalid):
        inboxes.create_inbox(desk.actor, "Mail", "email", webhook_url="https://x.test/h")
    with pytest.raises(Invalid):
        inboxes.create_inbox(desk.actor, "Ftp", "api", webhook_url="ftp://x.test/h")
