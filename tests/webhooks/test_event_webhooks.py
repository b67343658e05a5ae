"""Event webhooks end to end through the worker, to a real receiver that verifies every
signature with the Standard Webhooks reference library (tests/webhooks/receiver.py): what is
sent and in which shape, filters and reach, retries, 410 and a run of failures disabling the
endpoint, redelivery, several workers, and who may manage endpoints at all."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from deskwoot.delivery.worker import Worker
from deskwoot.errors import Conflict, Invalid, NotFound
from deskwoot.extensions import db
from deskwoot.mcp import views
from deskwoot.models import AuditEntry, Event, Outbox, WebhookEndpoint, utcnow
from deskwoot.services.activity import event_feed
from deskwoot.services.conversations import inbound, workflow
from deskwoot.services.directory import contacts
from deskwoot.services.operations import prune
from deskwoot.services.webhooks import deliveries, endpoints, fanout
from tests import factories as f
from tests.webhooks.receiver import SigningReceiver


class Desk:
    """A workspace with an admin and two inboxes."""

    def __init__(self):
        self.workspace = f.make_workspace()
        self.admin = f.make_user(self.workspace, role="admin", name="Ada Admin")
        self.actor = f.actor_for(self.admin, self.workspace)
        self.inbox_a = f.make_inbox(self.workspace, name="A")
        self.inbox_b = f.make_inbox(self.workspace, name="B")

    def subscribe(self, receiver: SigningReceiver, **options) -> WebhookEndpoint:
        issued = endpoints.create(self.actor, receiver.url, **options)
        receiver.secret = issued.secret
        return issued.endpoint

    def contact(self, name: str):
        return contacts.create_contact(self.actor, name=name)

    def inbound(self, inbox, email: str):
        """A new customer writes in: their contact and conversation arrive through the inbox."""
        return inbound.receive_inbound(inbox, {"email": email}, "Hello?").conversation


def rows(endpoint_id: int) -> list[Outbox]:
    db.session.rollback()
    return list(
        db.session.execute(
            select(Outbox).where(Outbox.endpoint_id == endpoint_id).order_by(Outbox.id)
        ).scalars()
    )


def endpoint(endpoint_id: int) -> WebhookEndpoint:
    db.session.rollback()
    return db.session.get(WebhookEndpoint, endpoint_id)


def test_desk_events_reach_the_receiver_signed_in_the_feed_shape(app):
    desk = Desk()
    before = f.make_conversation(desk.inbox_a, subject="Before")  # no backfill
    other = Desk()
    with SigningReceiver() as receiver:
        hook = desk.subscribe(receiver)
        start = hook.last_event_id
        conversation = f.make_conversation(desk.inbox_a, subject="Order")
        workflow.reply(desk.actor, conversation.display_id, "On its way")
        workflow.add_note(desk.actor, conversation.display_id, "Courier called")
        workflow.set_status(desk.actor, conversation.display_id, "resolved")
        desk.contact("Grace Hopper")
        f.make_conversation(other.inbox_a, subject="Not yours")  # another workspace
        Worker(app).run(once=True)
    db.session.rollback()
    feed = list(
        db.session.execute(
            select(Event)
            .where(Event.workspace_id == desk.workspace.id, Event.id > start)
            .order_by(Event.id)
        ).scalars()
    )
    assert start >= 1 and before.id
    # Every event of the workspace since the endpoint was made, once each, in commit order.
    assert [d.webhook_id for d in receiver.deliveries] == [f"evt_{e.id}_ep{hook.id}" for e in feed]
    assert {"conversation.created", "message.created", "conversation.updated"} <= set(
        receiver.types()
    )
    assert "contact.created" in receiver.types()
    # The customer's message, the reply and the note.
    assert receiver.types().count("message.created") == 3
    display_ids = event_feed.display_ids({e.conversation_id for e in feed if e.conversation_id})
    for delivery, event in zip(receiver.accepted, feed, strict=True):
        assert delivery.payload["type"] == event.type
        assert delivery.payload["timestamp"] == delivery.payload["data"]["occurred_at"]
        # The very shape poll_events returns (customer text there is only marked untrusted).
        assert delivery.payload["data"] == json.loads(
            json.dumps(views.event(event, display_ids, None))
        )
        assert delivery.payload["data"]["conversation_id"] in (None, conversation.display_id)
    sent = rows(hook.id)
    assert {(r.status, r.attempts, r.response_code) for r in sent} == {("sent", 1, 200)}
    assert all(r.duration_ms is not None for r in sent)
    assert endpoint(hook.id).last_event_id == feed[-1].id


def test_type_filter_and_inbox_restriction(app):
    desk = Desk()
    with SigningReceiver() as typed, SigningReceiver() as restricted:
        only_contacts = desk.subscribe(typed, event_types=["contact.created"])
        only_a = desk.subscribe(restricted, inbox_ids=[desk.inbox_a.id])
        in_a = desk.inbound(desk.inbox_a, "a@example.test")
        in_b = desk.inbound(desk.inbox_b, "b@example.test")
        workflow.reply(desk.actor, in_b.display_id, "B's reply")
        team_made = desk.contact("Made by the team")
        Worker(app).run(once=True)
    assert set(typed.types()) == {"contact.created"}
    assert {d.payload["data"]["contact_id"] for d in typed.accepted} == {
        in_a.contact_id,
        in_b.contact_id,
        team_made.id,
    }
    seen = [d.payload["data"] for d in restricted.accepted]
    assert {e["inbox_id"] for e in seen} == {desk.inbox_a.id, None}
    assert {e["contact_id"] for e in seen if e["type"].startswith("contact.")} == {
        in_a.contact_id,
        team_made.id,
    }
    assert in_b.display_id not in {e["conversation_id"] for e in seen}
    assert all(r.status == "sent" for r in rows(only_contacts.id) + rows(only_a.id))


def test_a_server_error_is_retried_and_delivered_once_with_the_same_webhook_id(app):
    desk = Desk()
    with SigningReceiver(500) as receiver:
        hook = desk.subscribe(receiver, event_types=["contact.created"])
        desk.contact("Retry Me")
        Worker(app).run(once=True)
    [row] = rows(hook.id)
    assert [(d.webhook_id, d.status) for d in receiver.deliveries] == [
        (row.delivery_id, 500),
        (row.delivery_id, 200),
    ]
    assert (row.status, row.attempts, row.response_code) == ("sent", 2, 200)
    assert endpoint(hook.id).consecutive_failures == 0


def test_gone_disables_the_endpoint_at_once_and_enabling_resumes_at_the_feed_end(app):
    desk = Desk()
    with SigningReceiver(410) as receiver:
        hook = desk.subscribe(receiver, event_types=["contact.created"])
        desk.contact("First")
        desk.contact("Second")
        Worker(app).run(once=True)
        assert len(receiver.deliveries) == 1  # the second was not even tried
        first, second = rows(hook.id)
        assert (first.status, first.response_code, first.response_body) == (
            "failed",
            410,
            "gone for good",
        )
        assert (second.status, second.last_error) == ("failed", deliveries.DISABLED)
        stopped = endpoint(hook.id)
        assert not stopped.enabled and stopped.disabled_automatically
        assert "410 Gone" in stopped.disabled_reason
        audit = db.session.execute(
            select(AuditEntry).where(AuditEntry.action == "webhook.disabled")
        ).scalar_one()
        assert audit.actor_name == deliveries.WORKER_NAME and "410" in audit.detail
        desk.contact("While disabled")
        Worker(app).run(once=True)
        assert len(receiver.deliveries) == 1
        endpoints.enable(desk.actor, hook.id)
        third = desk.contact("After enabling")
        Worker(app).run(once=True)
    assert [d.payload["data"]["contact_id"] for d in receiver.accepted] == [third.id]


def test_a_run_of_failed_deliveries_disables_the_endpoint_and_a_success_resets_it(app):
    app.config["WEBHOOK_DISABLE_AFTER"] = 3
    desk = Desk()
    with SigningReceiver(400, 400, 200, 400, 400, 400) as receiver:
        hook = desk.subscribe(receiver, event_types=["contact.created"])
        for n in range(5):
            desk.contact(f"Customer {n}")
        Worker(app).run(once=True)
        assert endpoint(hook.id).consecutive_failures == 2  # 400, 400, reset by 200, 400, 400
        assert endpoint(hook.id).enabled
        desk.contact("The third failure in a row")
        Worker(app).run(once=True)
    stopped = endpoint(hook.id)
    assert not stopped.enabled and stopped.consecutive_failures == 3
    assert stopped.disabled_reason.startswith("3 deliveries in a row failed")
    assert [r.status for r in rows(hook.id)] == ["failed", "failed", "sent"] + ["failed"] * 3


def test_redeliver_sends_the_same_webhook_id_again(app):
    desk = Desk()
    with SigningReceiver() as receiver:
        hook = desk.subscribe(receiver, event_types=["contact.created"])
        desk.contact("Twice")
        Worker(app).run(once=True)
        [row] = rows(hook.id)
        deliveries.redeliver(desk.actor, hook.id, row.id)
        with pytest.raises(Conflict):  # queued already
            deliveries.redeliver(desk.actor, hook.id, row.id)
        Worker(app).run(once=True)
    assert [d.webhook_id for d in receiver.accepted] == [row.delivery_id] * 2
    assert receiver.accepted[0].payload == receiver.accepted[1].payload
    assert rows(hook.id)[0].status == "sent"
    with pytest.raises(NotFound):  # another endpoint's delivery
        other = desk.subscribe(SigningReceiver())
        deliveries.redeliver(desk.actor, other.id, row.id)


def test_send_test_event(app):
    desk = Desk()
    with SigningReceiver() as receiver:
        hook = desk.subscribe(receiver)
        deliveries.send_test(desk.actor, hook.id)
        Worker(app).run(once=True)
    [delivery] = receiver.accepted
    assert delivery.payload["type"] == "webhook.test"
    assert delivery.payload["data"] == {"endpoint_id": hook.id, "sent_by": "Ada Admin"}


def test_two_workers_deliver_each_event_once_per_endpoint(app):
    app.config.update(DELIVERY_BATCH=3, WEBHOOK_FANOUT_BATCH=4)  # many small steps
    desk = Desk()
    with SigningReceiver() as first, SigningReceiver() as second:
        hooks = [desk.subscribe(first), desk.subscribe(second)]
        for n in range(20):
            desk.contact(f"Customer {n}")
        db.session.rollback()

        def drain(name: str) -> None:
            Worker(app, name=name).run(once=True)

        threads = [threading.Thread(target=drain, args=(f"w{n}",)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    for hook, receiver in zip(hooks, (first, second), strict=True):
        ids = [r.delivery_id for r in rows(hook.id)]
        assert len(ids) == 20
        assert Counter(d.webhook_id for d in receiver.deliveries) == Counter(ids)


def test_fan_out_twice_queues_nothing_twice(app):
    desk = Desk()
    hook = endpoints.create(desk.actor, "https://hooks.example.test/x").endpoint
    desk.contact("Once")
    assert fanout.fan_out() == 1
    assert fanout.fan_out() == 0
    # A cursor put back by hand (a bug, a restore) still cannot queue an event twice.
    db.session.execute(update(WebhookEndpoint).values(last_event_id=0))
    db.session.commit()
    with pytest.raises(Exception):  # noqa: B017 - the unique index, whichever driver error
        fanout.fan_out_endpoint(hook.id)
    db.session.rollback()
    assert len(rows(hook.id)) == 1


def test_only_admins_in_the_browser_manage_webhooks(app):
    desk = Desk()
    agent = f.make_user(desk.workspace, role="agent", inboxes=[desk.inbox_a])
    bot = f.bot_actor(desk.workspace)
    hook = endpoints.create(desk.actor, "https://hooks.example.test/x").endpoint
    for outsider in (f.actor_for(agent, desk.workspace), bot):
        with pytest.raises(NotFound):
            endpoints.create(outsider, "https://hooks.example.test/y")
    for outsider in (f.actor_for(agent, desk.workspace), bot, Desk().actor):
        with pytest.raises(NotFound):
            endpoints.disable(outsider, hook.id)
        with pytest.raises(NotFound):
            deliveries.log(outsider, hook.id)
    with pytest.raises(NotFound):  # another workspace's inbox
        endpoints.create(desk.actor, "https://h.test/", inbox_ids=[Desk().inbox_a.id])
    assert endpoint(hook.id).enabled


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.test/",
        "https://user:secret@hooks.example.test/",
        "https://token@hooks.example.test/",
        "https:///nohost",
        "javascript:alert(1)",
        "https://hooks.example.test:99999999/",
        "https://hooks.example.test/a b",
        "",
    ],
)
def test_endpoint_urls_are_checked(app, url):
    desk = Desk()
    with pytest.raises(Invalid):
        endpoints.create(desk.actor, url)
    assert db.session.execute(select(WebhookEndpoint)).first() is None


def test_every_admin_action_is_audited_and_delete_takes_the_log(app):
    desk = Desk()
    issued = endpoints.create(desk.actor, "https://hooks.example.test/x")
    hook = issued.endpoint
    assert issued.secret.startswith("whsec_")
    assert endpoint(hook.id).signing_secret.startswith("sealed:v1:")
    endpoints.update(
        desk.actor,
        hook.id,
        url="https://hooks.example.test/y",
        description="CRM",
        event_types=["message.created"],
        inbox_ids=[desk.inbox_a.id],
    )
    assert endpoints.rotate_secret(desk.actor, hook.id).secret != issued.secret
    endpoints.disable(desk.actor, hook.id)
    endpoints.enable(desk.actor, hook.id)
    deliveries.send_test(desk.actor, hook.id)
    endpoints.delete(desk.actor, hook.id)
    actions = db.session.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars()
    assert [a for a in actions if a.startswith("webhook.")] == [
        "webhook.created",
        "webhook.updated",
        "webhook.secret_rotated",
        "webhook.disabled",
        "webhook.enabled",
        "webhook.test_sent",
        "webhook.deleted",
    ]
    assert rows(hook.id) == []


def test_prune_drops_old_finished_deliveries_only(app):
    desk = Desk()
    hook = endpoints.create(desk.actor, "https://hooks.example.test/x").endpoint
    old_sent = deliveries.send_test(desk.actor, hook.id)
    old_pending = deliveries.send_test(desk.actor, hook.id)
    recent = deliveries.send_test(desk.actor, hook.id)
    long_ago = utcnow() - timedelta(days=app.config["WEBHOOK_LOG_RETENTION_DAYS"] + 1)
    db.session.execute(
        update(Outbox)
        .where(Outbox.id.in_([old_sent.id, old_pending.id]))
        .values(created_at=long_ago)
    )
    db.session.execute(
        update(Outbox).where(Outbox.id.in_([old_sent.id, recent.id])).values(status="sent")
    )
    db.session.commit()
    assert prune.prune().webhook_deliveries == 1
    assert [r.id for r in rows(hook.id)] == [old_pending.id, recent.id]
