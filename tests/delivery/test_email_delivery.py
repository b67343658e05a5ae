"""Email inboxes' replies through the delivery worker to a real SMTP server (aiosmtpd): the
headers that make a mail client thread and attribute them, a new thread for an outbound
conversation, attachments, STARTTLS with AUTH, and a redelivery that is the same message."""

from __future__ import annotations

from email.utils import getaddresses

import pytest
from sqlalchemy import update

from deskwoot.database.transactions import write_transaction
from deskwoot.delivery.worker import Worker
from deskwoot.extensions import db
from deskwoot.mcp import calls
from deskwoot.models import Message, Outbox
from deskwoot.services.access import tokens
from deskwoot.services.conversations import attachments
from tests import factories as f
from tests.delivery.mail_desk import ADDRESS, MailDesk, sink_url, text_of

pytestmark = pytest.mark.mail


def test_a_reply_reaches_the_customer_threaded_under_their_mail(app, smtp_sink):
    desk = MailDesk(sink_url(smtp_sink))
    conversation = desk.customer_wrote(
        message_id="<CAF1234@mail.example.com>", references=["<root@mail.example.com>"]
    )
    message = desk.reply(conversation, "Your order is on its way.\nÀ bientôt!")
    assert Worker(app).run(once=True) == 1
    [received] = smtp_sink.wait_for(1)
    mail = received.parsed()
    assert (received.mail_from, received.rcpt_tos) == (ADDRESS, ("john@example.com",))
    assert getaddresses([mail["From"]]) == [("Ada Lovelace from Acme Support", ADDRESS)]
    assert getaddresses([mail["To"]]) == [("John Smith", "john@example.com")]
    assert getaddresses([mail["Reply-To"]]) == [("Acme Support", ADDRESS)]
    assert mail["Subject"] == f"Re: Order 1234 [#{conversation.display_id}]"
    assert mail["Message-ID"] == desk.message_id(message)
    assert mail["In-Reply-To"] == "<CAF1234@mail.example.com>"
    assert mail["References"] == "<root@mail.example.com> <CAF1234@mail.example.com>"
    assert mail["Auto-Submitted"] is None  # a person's reply
    assert text_of(mail) == "Your order is on its way.\nÀ bientôt!\n"
    row = desk.outbox(message.id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
    assert db.session.get(Message, message.id).delivery_status == "sent"
    [delivered] = desk.events("message.delivered")
    assert delivered.data["message_id"] == message.id


def test_the_reply_threads_under_the_customers_latest_mail(app, smtp_sink):
    desk = MailDesk(sink_url(smtp_sink))
    conversation = desk.customer_wrote(message_id="<first@mail.example.com>")
    desk.reply(conversation, "Which order?")
    # The customer answers our reply, as the inbound side stores it.
    with write_transaction() as session:
        incoming = Message(
            workspace_id=desk.workspace.id,
            conversation_id=conversation.id,
            inbox_id=desk.inbox.id,
            kind="incoming",
            sender_type="contact",
            sender_contact_id=conversation.contact_id,
            body="Order 1234, thanks",
            mail={
                "message_id": "<second@mail.example.com>",
                "references": ["<first@mail.example.com>", "<deskwoot.m1.x@acme.test>"],
                "in_reply_to": "<deskwoot.m1.x@acme.test>",
            },
        )
        session.add(incoming)
    second = desk.reply(conversation, "Found it.")
    Worker(app).run(once=True)
    first_mail, second_mail = (m.parsed() for m in smtp_sink.wait_for(2))
    assert first_mail["In-Reply-To"] == "<first@mail.example.com>"
    assert second_mail["Message-ID"] == desk.message_id(second)
    assert second_mail["In-Reply-To"] == "<second@mail.example.com>"
    assert second_mail["References"].split() == [
        "<first@mail.example.com>",
        "<deskwoot.m1.x@acme.test>",
        "<second@mail.example.com>",
    ]


def test_an_outbound_conversation_starts_a_new_thread_and_its_follow_up_joins_it(app, smtp_sink):
    desk = MailDesk(sink_url(smtp_sink))
    conversation, first = desk.start(
        {"email": "jane@example.com", "name": "Jane Doe"},
        "Your May invoice",
        "Your invoice for May is attached.",
    )
    follow_up = desk.reply(conversation, "And here is the receipt.")
    assert Worker(app).run(once=True) == 2
    new, reply = (m.parsed() for m in smtp_sink.wait_for(2))
    marker = f"[#{conversation.display_id}]"
    assert new["Subject"] == f"Your May invoice {marker}"
    assert new["Message-ID"] == desk.message_id(first)
    assert new["In-Reply-To"] is None and new["References"] is None
    assert getaddresses([new["To"]]) == [("Jane Doe", "jane@example.com")]
    assert reply["Subject"] == f"Re: Your May invoice {marker}"
    assert reply["Message-ID"] == desk.message_id(follow_up)
    assert reply["In-Reply-To"] == desk.message_id(first)


def test_a_bots_reply_through_mcp_is_sent_under_the_bots_name(app, smtp_sink):
    desk = MailDesk(sink_url(smtp_sink))
    conversation = desk.customer_wrote()
    minted = tokens.mint(desk.actor, "Triage bot", ["conversations:reply"])
    bot = f.bot_actor(desk.workspace, token_id=minted.token.id)
    result = calls.call(
        bot,
        "reply_to_conversation",
        {
            "conversation_id": conversation.display_id,
            "body": "We are on it.",
            "idempotency_key": "triage-1",
        },
    )
    assert not result.get("isError"), result
    Worker(app).run(once=True)
    [received] = smtp_sink.wait_for(1)
    assert getaddresses([received.parsed()["From"]]) == [("Triage bot", ADDRESS)]


def test_a_replys_files_go_as_mime_attachments(app, smtp_sink):
    desk = MailDesk(sink_url(smtp_sink))
    conversation = desk.customer_wrote()
    message = desk.reply(conversation, "The label and the invoice.")
    pdf = b"%PDF-1.4 fake invoice \x00\xff"
    with write_transaction() as session:
        row = session.get(Message, message.id)
        attachments.add(session, row, "invoice 1234.pdf", "application/pdf", pdf)
        attachments.add(session, row, "étiquette.txt", "text/plain", "colis n°7\n".encode())
        attachments.add(session, row, "huge.iso", "application/octet-stream", b"", skipped="big")
    Worker(app).run(once=True)
    [received] = smtp_sink.wait_for(1)
    mail = received.parsed()
    assert mail.get_content_type() == "multipart/mixed"
    assert text_of(mail) == "The label and the invoice.\n"
    files = [
        (p.get_filename(), p.get_content_type(), p.get_payload(decode=True))
        for p in mail.iter_attachments()
    ]
    assert files == [
        ("invoice 1234.pdf", "application/pdf", pdf),
        ("étiquette.txt", "text/plain", "colis n°7\n".encode()),
    ]  # the skipped file has no bytes to send


def test_starttls_and_auth(app, make_smtp_sink):
    sink = make_smtp_sink(auth=("ada", "s3cr3t@pw"), starttls=True)
    app.config["MAIL_TLS_CAFILE"] = str(sink.cafile)
    desk = MailDesk(sink_url(sink, "ada:s3cr3t%40pw@"))
    message = desk.reply(desk.customer_wrote())
    Worker(app).run(once=True)
    [received] = sink.wait_for(1)
    assert received.login == "ada"
    assert received.parsed()["Message-ID"] == desk.message_id(message)
    assert desk.outbox(message.id).status == "sent"


def test_a_redelivery_after_a_crash_is_the_same_message(app, smtp_sink):
    desk = MailDesk(sink_url(smtp_sink))
    message = desk.reply(desk.customer_wrote())
    Worker(app).run(once=True)
    # The worker sent it but died before recording it: the row is pending again.
    db.session.execute(
        update(Outbox)
        .where(Outbox.message_id == message.id)
        .values(status="pending", sent_at=None, attempts=0)
    )
    db.session.commit()
    Worker(app).run(once=True)
    first, again = (m.parsed() for m in smtp_sink.wait_for(2))
    for header in ("Message-ID", "Date", "Subject", "From", "In-Reply-To", "References"):
        assert first[header] == again[header]
    assert text_of(first) == text_of(again)
