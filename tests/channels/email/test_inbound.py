"""Incoming email through channels/email/inbound.receive into the conversation service:
conversations and contacts, threading (our Message-IDs, the customer's, the subject marker),
dedupe, loop protection, bounces, attachments and HTML-only mail."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from deskwoot.channels.email import inbound
from deskwoot.channels.email.identity import message_id_for
from deskwoot.extensions import db
from deskwoot.models import Contact, Outbox
from deskwoot.services.conversations import attachments, workflow
from tests import factories as f
from tests.channels.email import corpus
from tests.channels.email.inboxes import conversation, email_inbox, events, mail, messages


@pytest.fixture
def desk(app):
    inbox = email_inbox()
    agent = f.make_user(inbox.workspace, role="admin")
    return inbox, f.actor_for(agent, inbox.workspace)


def our_reply(actor, display_id: int, inbox) -> tuple[int, str]:
    """An agent's reply, and the Message-ID it goes out with."""
    message = workflow.reply(actor, display_id, "Please try turning it off and on again.")
    return message.id, message_id_for(message.id, inbox.uid, "acme.test")


def test_a_new_mail_opens_a_conversation_with_its_contact(desk):
    inbox, _ = desk
    result = inbound.receive(inbox, mail())
    assert result.status == "stored" and result.line().startswith("stored: conversation #1")
    (message,) = messages(inbox)
    assert message.body == "Hello, my order has not arrived."
    assert message.full_body is None  # nothing was stripped
    assert message.source_id == "<first@example.com>"
    assert message.mail["message_id"] == "<first@example.com>"
    assert message.mail["from"] == "jane@example.com"
    assert message.mail["references"] == [] and message.mail["noise"] == []
    contact = db.session.get(Contact, message.sender_contact_id)
    assert (contact.email, contact.name) == ("jane@example.com", "Jane Doe")
    conv = conversation(result.display_id)
    assert conv.subject == "Order 1042" and conv.status == "open"
    (created,) = events("message.created")
    assert "auto_submitted" not in created.data


def test_the_same_message_id_twice_is_stored_once(desk):
    inbox, _ = desk
    first = inbound.receive(inbox, mail())
    again = inbound.receive(inbox, mail())
    assert again.status == "duplicate"
    assert (again.display_id, again.message_id) == (first.display_id, first.message_id)
    assert len(messages(inbox)) == 1


def test_a_reply_to_our_message_id_reopens_its_resolved_conversation(desk):
    inbox, actor = desk
    first = inbound.receive(inbox, mail())
    _, our_id = our_reply(actor, first.display_id, inbox)
    workflow.set_status(actor, first.display_id, "resolved")
    reply = mail(
        "Thanks, that worked!\n\nOn Monday Ada wrote:\n> Please try turning it off and on again.",
        subject="Re: Order 1042",
        message_id="<second@example.com>",
        headers={"In-Reply-To": our_id, "References": f"<first@example.com> {our_id}"},
    )
    result = inbound.receive(inbox, reply)
    assert (result.status, result.display_id) == ("stored", first.display_id)
    assert conversation(first.display_id).status == "open"
    stored = messages(inbox)[-1]
    assert stored.body == "Thanks, that worked!"
    assert "turning it off" in stored.full_body  # the whole text stays for teammates


def test_a_reply_by_references_to_the_customers_earlier_mail_joins_it(desk):
    inbox, _ = desk
    first = inbound.receive(inbox, mail())
    follow_up = mail(
        "Any news?",
        subject="Fwd: something else",
        message_id="<third@example.com>",
        headers={"References": "<unrelated@elsewhere.example> <first@example.com>"},
    )
    assert inbound.receive(inbox, follow_up).display_id == first.display_id


def test_the_subject_marker_only_threads_mail_from_that_conversations_contact(desk):
    inbox, _ = desk
    first = inbound.receive(inbox, mail())
    marker = f"Re: Order [#{first.display_id}]"
    same = inbound.receive(inbox, mail("Me again", subject=marker, message_id="<m2@example.com>"))
    assert same.display_id == first.display_id
    stranger = inbound.receive(
        inbox,
        mail(
            "Let me in", sender="eve@evil.example", subject=marker, message_id="<e1@evil.example>"
        ),
    )
    assert stranger.status == "stored" and stranger.display_id != first.display_id


def test_our_message_id_from_another_sender_does_not_join_the_conversation(desk):
    """Our Message-IDs are sequential: anyone who got one reply could guess the others."""
    inbox, actor = desk
    first = inbound.receive(inbox, mail())
    _, our_id = our_reply(actor, first.display_id, inbox)
    forged = mail(
        "Injected", sender="eve@evil.example", message_id="<e2@evil.example>",
        headers={"In-Reply-To": our_id},
    )  # fmt: skip
    assert inbound.receive(inbox, forged).display_id != first.display_id


def test_mail_from_the_inbox_own_address_is_ignored(desk):
    inbox, _ = desk
    result = inbound.receive(inbox, mail(sender="Acme Support <Support@Acme.test>"))
    assert result.status == "ignored" and "own address" in result.reason
    assert messages(inbox) == []


def test_an_auto_reply_is_stored_flagged_and_never_reopens(desk):
    inbox, actor = desk
    first = inbound.receive(inbox, mail())
    _, our_id = our_reply(actor, first.display_id, inbox)
    workflow.set_status(actor, first.display_id, "resolved")
    raw = corpus.OUT_OF_OFFICE.replace(b"john@example.com", b"jane@example.com").replace(
        b"<deskwoot.m17.inbox1@acme.test>", our_id.encode()
    )
    result = inbound.receive(inbox, raw)
    assert (result.status, result.display_id) == ("stored", first.display_id)
    assert "auto-submitted" in result.reason
    assert conversation(first.display_id).status == "resolved"
    stored = messages(inbox)[-1]
    assert "auto-submitted: auto-replied" in stored.mail["noise"]
    assert events("message.created")[-1].data["auto_submitted"] is True


def test_a_permanent_bounce_marks_our_message_failed(desk):
    inbox, actor = desk
    first = inbound.receive(inbox, mail())
    message_id, our_id = our_reply(actor, first.display_id, inbox)
    stored_before = len(messages(inbox))
    raw = corpus.POSTFIX_DSN.replace(b"<deskwoot.m21.inbox1@acme.test>", our_id.encode())
    result = inbound.receive(inbox, raw)
    assert (result.status, result.message_id) == ("bounce", message_id)
    assert len(messages(inbox)) == stored_before  # a bounce is no customer message
    outbox = db.session.execute(select(Outbox).where(Outbox.message_id == message_id)).scalar_one()
    assert outbox.status == "failed" and "5.1.1" in outbox.last_error
    assert messages(inbox)[-1].delivery_status == "failed"
    (failed,) = events("message.failed")
    assert failed.data["message_id"] == message_id and "User unknown" in failed.data["reason"]
    assert failed.data["display_id"] == first.display_id
    # A second copy changes nothing and emits nothing.
    assert "already" in inbound.receive(inbox, raw).reason
    assert len(events("message.failed")) == 1


def test_a_text_bounce_for_a_message_of_ours_is_read_too(desk):
    inbox, actor = desk
    first = inbound.receive(inbox, mail())
    message_id, our_id = our_reply(actor, first.display_id, inbox)
    raw = corpus.EXIM_BOUNCE.replace(b"<deskwoot.m22.inbox1@acme.test>", our_id.encode())
    assert inbound.receive(inbox, raw).message_id == message_id
    assert messages(inbox)[-1].delivery_status == "failed"


def test_a_bounce_naming_no_message_of_ours_and_a_delay_report_change_nothing(desk):
    inbox, actor = desk
    first = inbound.receive(inbox, mail())
    _, our_id = our_reply(actor, first.display_id, inbox)
    unknown = inbound.receive(inbox, corpus.POSTFIX_DSN)  # another inbox's uid
    assert unknown.status == "bounce" and "no message" in unknown.reason
    delayed = (
        corpus.POSTFIX_DSN.replace(b"<deskwoot.m21.inbox1@acme.test>", our_id.encode())
        .replace(b"Action: failed", b"Action: delayed")
        .replace(b"Status: 5.1.1", b"Status: 4.4.1")
    )
    assert "temporary" in inbound.receive(inbox, delayed).reason
    assert messages(inbox)[-1].delivery_status == "pending"
    assert events("message.failed") == []


def test_attachments_are_stored_with_sniffed_types_and_oversized_ones_listed(app, desk):
    inbox, _ = desk
    app.config["ATTACHMENT_MAX_BYTES"] = 1000
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
    raw = corpus.with_attachments(
        ("photo.bin", "application/octet-stream", png),
        ("big.txt", "text/plain", b"x" * 5000),
    )
    result = inbound.receive(inbox, raw)
    rows = attachments.rows_for([result.message_id])[result.message_id]
    assert [(r.filename, r.content_type) for r in rows] == [
        ("photo.bin", "image/png"),  # sniffed, whatever was declared
        ("big.txt", "text/plain"),
    ]
    assert rows[0].size == len(png) and rows[0].skipped is None
    assert rows[1].size >= 5000 and "limit" in rows[1].skipped  # listed, no bytes kept


def test_html_only_mail_is_stored_as_text(desk):
    inbox, _ = desk
    result = inbound.receive(inbox, corpus.HTML_NEWSLETTER)
    assert result.status == "stored"  # a list: stored, flagged
    stored = messages(inbox)[-1]
    assert "Spring sale" in stored.body and "Shop now" in stored.body
    for bad in ("<", "script", "stealEverything", "document.cookie"):
        assert bad not in stored.body and bad not in (stored.full_body or "")
    assert stored.mail["from_html"] is True and "mailing list" in stored.mail["noise"]


def test_a_long_mail_is_cut_to_the_body_limit_and_kept_whole(desk):
    inbox, _ = desk
    text = "word " * 10_000
    inbound.receive(inbox, mail(text))
    stored = messages(inbox)[-1]
    assert len(stored.body) <= 20_000 and "cut here" in stored.body
    assert stored.full_body == text.strip()


def test_mail_without_a_sender_is_ignored(desk):
    inbox, _ = desk
    raw = corpus.crlf("To: support@acme.test\nSubject: who?\nMessage-ID: <x@y>\n\nhello")
    result = inbound.receive(inbox, raw)
    assert result.status == "ignored" and "sender" in result.reason
