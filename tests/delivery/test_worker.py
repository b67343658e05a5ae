"""The delivery worker: exactly-once under concurrent workers, leases that outlive a dead
worker, a stop that gives work back, the `deskwoot worker --once` command, and the status
get_conversation shows."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import select, update

from deskwoot.delivery.worker import Worker
from deskwoot.extensions import db
from deskwoot.mcp import calls
from deskwoot.models import Conversation, Outbox, utcnow
from deskwoot.services.conversations import workflow
from deskwoot.services.delivery import claims
from deskwoot.services.delivery import outbox as delivery
from tests import factories as f
from tests.delivery.desk import Desk
from tests.delivery.receiver import Answer, Receiver


def _display_id(conversation_id: int) -> int:
    return db.session.get(Conversation, conversation_id).display_id


def test_two_workers_draining_fifty_rows_deliver_each_exactly_once(app):
    app.config["DELIVERY_BATCH"] = 3  # many small claims, so the workers interleave
    with Receiver() as receiver:
        desk = Desk(receiver.url)
        conversation = f.make_conversation(desk.inbox)
        ids = [
            workflow.reply(desk.actor, conversation.display_id, f"reply {n}").id for n in range(50)
        ]
        db.session.rollback()
        workers = [Worker(app, name=f"w{n}") for n in range(2)]
        handled = [0, 0]

        def drain(index: int) -> None:
            handled[index] = workers[index].run(once=True)

        threads = [threading.Thread(target=drain, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    seen = Counter(r.headers["webhook-id"] for r in receiver.requests)
    assert seen == Counter({f"msg_{i}": 1 for i in ids})
    assert sum(handled) == 50
    statuses = db.session.execute(select(Outbox.status)).scalars().all()
    assert statuses == ["sent"] * 50


def test_a_dead_workers_lease_expires_and_the_row_is_delivered(app):
    with Receiver() as receiver:
        desk = Desk(receiver.url)
        message = desk.reply()
        assert claims.claim("dead-worker", ["api"], 10, lease=300) == [desk.outbox(message.id).id]
        assert Worker(app).run(once=True) == 0  # leased: nobody else touches it
        db.session.execute(update(Outbox).values(claimed_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert Worker(app).run(once=True) == 1
    assert len(receiver.requests) == 1
    assert desk.outbox(message.id).status == "sent"
    # The dead worker's late word changes nothing: it no longer holds the row.
    assert delivery.mark_failed(desk.outbox(message.id).id, "dead-worker", "late") is False


def test_a_stopping_worker_gives_the_rest_of_its_batch_back(app):
    desk = Desk(None)
    first, second = desk.reply(), desk.reply()
    worker = Worker(app)
    original = worker.record

    def record_then_stop(outgoing, outcome):
        original(outgoing, outcome)
        worker.stop.set()  # SIGTERM arrives during the first delivery

    worker.record = record_then_stop
    assert worker.run() == 1
    assert desk.outbox(first.id).status == "sent"
    row = desk.outbox(second.id)
    assert (row.status, row.claimed_by, row.claimed_until) == ("pending", None, None)


def test_a_batch_that_used_half_its_lease_gives_the_rest_back(app):
    # A slow receiver: each delivery takes 0.6 s of a 1 s lease. Sending the second row would
    # risk its lease running out mid-delivery and another worker sending it too.
    app.config.update(DELIVERY_LEASE=1.0, DELIVERY_BATCH=3)
    with Receiver(Answer(delay=0.6), Answer(delay=0.6), Answer(delay=0.6)) as receiver:
        desk = Desk(receiver.url)
        first, second, third = desk.reply(), desk.reply(), desk.reply()
        assert Worker(app).run_once() == 1
        assert len(receiver.requests) == 1
        assert desk.outbox(first.id).status == "sent"
        for message in (second, third):
            row = desk.outbox(message.id)
            assert (row.status, row.claimed_by) == ("pending", None)  # free for anyone, now
        assert Worker(app).run(once=True) == 2
    assert desk.outbox(third.id).status == "sent"


def test_the_worker_command_drains_once_and_exits(app, runner):
    with Receiver(Answer(500)) as receiver:
        desk = Desk(receiver.url)
        message = desk.reply()
        result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "stopped after 2 deliveries" in result.output
    assert len(receiver.requests) == 2
    assert desk.outbox(message.id).status == "sent"


def test_get_conversation_shows_each_outgoing_messages_delivery(app):
    with Receiver(Answer(410)) as receiver:
        desk = Desk(receiver.url)
        message = desk.reply()
        pending = desk.reply()  # its own conversation, delivered below too
        db.session.execute(
            update(Outbox)
            .where(Outbox.message_id == pending.id)
            .values(next_attempt_at=utcnow() + timedelta(hours=1))
        )
        db.session.commit()
        Worker(app).run(once=True)
    bot = f.bot_actor(desk.workspace)
    display_id = _display_id(message.conversation_id)
    result = calls.call(bot, "get_conversation", {"conversation_id": display_id})
    assert not result.get("isError"), result
    incoming, outgoing = result["structuredContent"]["messages"]
    assert "delivery" not in incoming
    assert outgoing["delivery"] == {
        "status": "failed",
        "attempts": 1,
        "last_error": "HTTP 410",
        "delivered_at": None,
    }
    other = _display_id(pending.conversation_id)
    result = calls.call(bot, "get_conversation", {"conversation_id": other})
    assert result["structuredContent"]["messages"][1]["delivery"]["status"] == "pending"
