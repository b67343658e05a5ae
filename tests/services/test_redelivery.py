"""Retry of a failed delivery (services/delivery/redelivery.py): back to pending and due
now, with a fresh attempt count, the old count in the audit row; the worker then delivers it
under the same delivery id. Only failed outgoing messages in the actor's reach."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from deskwoot.delivery.worker import Worker
from deskwoot.errors import Conflict, NotFound
from deskwoot.extensions import db
from deskwoot.models import AuditEntry, Conversation, Event, Message
from deskwoot.services.conversations import workflow
from deskwoot.services.delivery import redelivery
from tests import factories as f
from tests.delivery.desk import (
    Desk,
    app_config,  # noqa: F401 (a fixture: retries due at once)
)
from tests.delivery.receiver import Answer, Receiver


def test_a_failed_message_goes_again_and_is_delivered_once(app):
    with Receiver(Answer(410), Answer(200)) as receiver:
        desk = Desk(receiver.url)
        message = desk.reply("Your refund is on its way.")
        Worker(app).run(once=True)
        failed = desk.outbox(message.id)
        assert (failed.status, failed.attempts, failed.last_error) == ("failed", 1, "HTTP 410")

        redelivery.retry(desk.actor, message.id)
        row = desk.outbox(message.id)
        assert (row.status, row.attempts, row.next_attempt_at, row.failed_at) == (
            "pending",
            0,
            None,
            None,
        )
        assert row.claimed_by is None and row.claimed_until is None
        assert db.session.get(Message, message.id).delivery_status == "pending"
        audit = db.session.execute(
            select(AuditEntry).where(AuditEntry.action == "message.redelivery_requested")
        ).scalar_one()
        assert audit.target == f"message {message.id}"
        assert audit.actor_name == "Ada Agent"
        assert audit.detail == "failed after 1 attempt(s): HTTP 410"

        Worker(app).run(once=True)
    sent = desk.outbox(message.id)
    assert (sent.status, sent.attempts) == ("sent", 1)
    assert db.session.get(Message, message.id).delivery_status == "sent"
    # Two requests, one identity: a receiver that kept the first drops the second.
    ids = {request.headers["webhook-id"] for request in receiver.requests}
    assert len(receiver.requests) == 2 and ids == {f"msg_{message.id}"}
    types = db.session.execute(
        select(Event.type).where(Event.type.like("message.%")).order_by(Event.id)
    ).scalars()
    assert [t for t in types if t != "message.created"] == ["message.failed", "message.delivered"]


def test_a_message_that_gave_up_gets_new_attempts(app):
    app.config["DELIVERY_MAX_ATTEMPTS"] = 2
    with Receiver(Answer(503), Answer(503), Answer(200)) as receiver:
        desk = Desk(receiver.url)
        message = desk.reply()
        Worker(app).run(once=True)
        assert desk.outbox(message.id).last_error == "gave up after 2 attempts: HTTP 503"
        redelivery.retry(desk.actor, message.id)
        Worker(app).run(once=True)
    assert desk.outbox(message.id).status == "sent"
    assert len(receiver.requests) == 3


def test_only_a_failed_message_can_be_retried(app):
    with Receiver(Answer(200)) as receiver:
        desk = Desk(receiver.url)
        message = desk.reply()
        with pytest.raises(Conflict, match="still being sent"):
            redelivery.retry(desk.actor, message.id)
        Worker(app).run(once=True)
        with pytest.raises(Conflict, match="was delivered"):
            redelivery.retry(desk.actor, message.id)
    assert desk.outbox(message.id).status == "sent"
    assert not db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "message.redelivery_requested")
    ).first()


def test_out_of_reach_or_not_outgoing_is_not_found(app):
    with Receiver(Answer(410)) as receiver:
        desk = Desk(receiver.url)
        message = desk.reply()
        Worker(app).run(once=True)
    stranger_ws = f.make_workspace()
    stranger = f.actor_for(f.make_user(stranger_ws, role="admin"), stranger_ws)
    other_inbox = f.make_inbox(desk.workspace, name="Elsewhere")
    outsider = f.actor_for(
        f.make_user(desk.workspace, role="agent", inboxes=[other_inbox]), desk.workspace
    )
    for actor in (stranger, outsider):
        with pytest.raises(NotFound):
            redelivery.retry(actor, message.id)
    incoming = db.session.execute(
        select(Message.id).where(
            Message.conversation_id == message.conversation_id, Message.kind == "incoming"
        )
    ).scalar_one()
    display_id = _display_id(message)
    note = workflow.add_note(desk.actor, display_id, "internal")
    for message_id in (incoming, note.id, 10**9):
        with pytest.raises(NotFound):
            redelivery.retry(desk.actor, message_id)
    assert desk.outbox(message.id).status == "failed"


def test_a_teammate_who_sees_the_conversation_may_retry(app):
    with Receiver(Answer(410)) as receiver:
        desk = Desk(receiver.url)
        message = desk.reply()
        Worker(app).run(once=True)
    member = f.make_user(desk.workspace, role="agent", inboxes=[desk.inbox])
    redelivery.retry(f.actor_for(member, desk.workspace), message.id)
    assert desk.outbox(message.id).status == "pending"


def _display_id(message) -> int:
    return db.session.get(Conversation, message.conversation_id).display_id
