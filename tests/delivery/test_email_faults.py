"""Email delivery when things go wrong, against the real SMTP sink: a server that is down for a
while (the reply waits, then goes once), 4xx then 2xx, 5xx and a wrong password (failed at
once, with the server's words, in the events feed and get_conversation), the attempt limit,
and inboxes or contacts that cannot be mailed (failed with a reason a teammate can act on)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from deskwoot.channels.email import outgoing as email_outgoing
from deskwoot.delivery.worker import Worker
from deskwoot.extensions import db
from deskwoot.mcp import calls
from deskwoot.models import Outbox, utcnow
from tests import factories as f
from tests.delivery.mail_desk import MailDesk, sink_url

pytestmark = pytest.mark.mail


def _make_due(message_id: int) -> None:
    db.session.execute(
        update(Outbox)
        .where(Outbox.message_id == message_id)
        .values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def test_a_server_down_for_a_while_gets_the_reply_once_when_it_is_back(app, smtp_sink):
    app.config["DELIVERY_BACKOFF_BASE"] = 60  # a real wait, so the row stays pending
    desk = MailDesk(sink_url(smtp_sink))
    message = desk.reply(desk.customer_wrote())
    smtp_sink.stop()
    before = utcnow()
    assert Worker(app).run(once=True) == 1
    row = desk.outbox(message.id)
    assert (row.status, row.attempts, row.claimed_by) == ("pending", 1, None)
    assert "refused the connection" in row.last_error
    assert before <= row.next_attempt_at <= utcnow() + timedelta(seconds=60)
    assert Worker(app).run(once=True) == 0  # not due yet
    smtp_sink.start()
    _make_due(message.id)
    assert Worker(app).run(once=True) == 1
    [received] = smtp_sink.wait_for(1)
    assert received.parsed()["Message-ID"] == desk.message_id(message)
    row = desk.outbox(message.id)
    assert (row.status, row.attempts) == ("sent", 2)
    assert Worker(app).run(once=True) == 0
    assert len(smtp_sink.messages()) == 1


def test_a_4xx_then_2xx_delivers_one_message(app, smtp_sink):
    desk = MailDesk(sink_url(smtp_sink))
    message = desk.reply(desk.customer_wrote())
    smtp_sink.fail_next(1, 451, "4.7.1 Greylisted, come back later")
    worker = Worker(app)
    assert worker.run_once() == 1
    row = desk.outbox(message.id)
    assert (row.status, row.attempts) == ("pending", 1)
    assert "451 4.7.1 Greylisted, come back later" in row.last_error
    assert worker.run(once=True) == 1  # due at once (the tests' backoff is 0)
    [received] = smtp_sink.wait_for(1)
    assert received.parsed()["Message-ID"] == desk.message_id(message)
    row = desk.outbox(message.id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)


def test_a_5xx_fails_at_once_and_says_why_everywhere(app, smtp_sink):
    desk = MailDesk(sink_url(smtp_sink))
    conversation = desk.customer_wrote()
    message = desk.reply(conversation)
    smtp_sink.fail_next(1, 550, "5.1.1 <john@example.com>: Recipient address rejected")
    assert Worker(app).run(once=True) == 1
    assert smtp_sink.messages() == []
    row = desk.outbox(message.id)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error == (
        "The mail server refused the message: "
        "550 5.1.1 <john@example.com>: Recipient address rejected"
    )
    bot = f.bot_actor(desk.workspace)
    feed = calls.call(bot, "poll_events", {"types": ["message.failed"]})
    assert not feed.get("isError"), feed
    [event] = feed["structuredContent"]["events"]
    assert event["data"]["message_id"] == message.id
    assert event["data"]["reason"] == row.last_error
    shown = calls.call(bot, "get_conversation", {"conversation_id": conversation.display_id})
    assert shown["structuredContent"]["messages"][-1]["delivery"] == {
        "status": "failed",
        "attempts": 1,
        "last_error": row.last_error,
        "delivered_at": None,
    }


def test_a_wrong_password_fails_at_once(app, make_smtp_sink):
    sink = make_smtp_sink(auth=("ada", "right"))
    desk = MailDesk(sink_url(sink, "ada:wrong@"))
    message = desk.reply(desk.customer_wrote())
    Worker(app).run(once=True)
    row = desk.outbox(message.id)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "refused the login: 535" in row.last_error
    assert sink.messages() == []


def test_the_attempt_limit_fails_the_reply(app, smtp_sink):
    app.config["DELIVERY_MAX_ATTEMPTS"] = 3
    desk = MailDesk(sink_url(smtp_sink))
    message = desk.reply(desk.customer_wrote())
    smtp_sink.stop()
    assert Worker(app).run(once=True) == 3
    row = desk.outbox(message.id)
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.last_error.startswith("gave up after 3 attempts: The mail server at 127.0.0.1")
    assert [e.data["reason"] for e in desk.events("message.failed")] == [row.last_error]


def test_an_inbox_without_an_smtp_server_fails_with_a_reason(app):
    desk = MailDesk(None)
    message = desk.reply(desk.customer_wrote())
    Worker(app).run(once=True)
    row = desk.outbox(message.id)
    assert (row.status, row.last_error) == ("failed", email_outgoing.NO_SMTP)


def test_a_credential_the_secret_key_cannot_open_fails_with_a_reason(app):
    desk = MailDesk(None)
    desk.set_smtp(None, raw="sealed:v1:not-a-fernet-token")
    message = desk.reply(desk.customer_wrote())
    Worker(app).run(once=True)
    row = desk.outbox(message.id)
    assert row.status == "failed"
    assert "cannot be decrypted with this server's SECRET_KEY" in row.last_error


def test_a_contact_without_an_email_address_fails_with_a_reason(app, smtp_sink):
    desk = MailDesk(sink_url(smtp_sink))
    _, message = desk.start({"identifier": "crm-42", "name": "No Mail"}, "Hello", "Hi from Acme")
    Worker(app).run(once=True)
    row = desk.outbox(message.id)
    assert (row.status, row.last_error) == ("failed", email_outgoing.NO_CONTACT_EMAIL)
    assert smtp_sink.messages() == []


def test_a_subject_with_a_line_break_cannot_inject_a_header(app, smtp_sink):
    desk = MailDesk(sink_url(smtp_sink))
    conversation = desk.customer_wrote(subject="Order\r\nBcc: victim@example.net")
    desk.reply(conversation)
    Worker(app).run(once=True)
    [received] = smtp_sink.wait_for(1)
    assert received.rcpt_tos == ("john@example.com",)
    mail = received.parsed()
    assert mail["Bcc"] is None
    assert mail["Subject"] == f"Re: Order Bcc: victim@example.net [#{conversation.display_id}]"
