"""Compose → bytes → parse: what we send reads back with the same ids, threading and text,
and the customer's answer to it threads back to our message."""

from datetime import UTC, datetime

from deskwoot.channels.email.compose import OutgoingMail, compose_new, compose_reply, to_bytes
from deskwoot.channels.email.identity import (
    find_subject_marker,
    message_id_for,
    own_message_ref,
    subject_marker,
)
from deskwoot.channels.email.parse import parse_incoming
from tests.channels.email import corpus


def test_a_reply_reads_back_with_its_identity_and_threading():
    customer = parse_incoming(corpus.GMAIL_REPLY_EN)
    body = "Hi John,\n\nglad it works again — Grüße!\n\nAda"
    outgoing = OutgoingMail(
        inbox_address="support@acme.test",
        inbox_name="Acme Support",
        sender_display="Ada from Acme Support",
        to_address=customer.from_address,
        to_name=customer.from_name,
        subject=customer.subject,
        body_text=body,
        message_id=message_id_for(18, "inbox1", "acme.test"),
        in_reply_to=customer.message_id,
        references=customer.references,
        date=datetime(2025, 3, 3, 11, 0, tzinfo=UTC),
    )
    sent = parse_incoming(to_bytes(compose_reply(outgoing, marker=subject_marker(42))))
    assert sent.message_id == "<deskwoot.m18.inbox1@acme.test>"
    assert sent.in_reply_to == customer.message_id
    assert sent.references == (*customer.references, customer.message_id)
    assert sent.subject == "Re: Printer offline [#42]"
    assert (sent.from_address, sent.from_name) == ("support@acme.test", "Ada from Acme Support")
    assert sent.to == ("john@example.com",)
    assert sent.text == body
    assert sent.noise == () and sent.bounce is None
    # Our own address configured: the worker would never take our copy for a customer's mail.
    assert parse_incoming(
        to_bytes(compose_reply(outgoing)), own_addresses={"support@acme.test"}
    ).is_noise


def test_the_customers_answer_to_our_reply_threads_back():
    outgoing = OutgoingMail(
        inbox_address="support@acme.test",
        sender_display="Helpbot",
        to_address="mia@example.com",
        subject="Your order",
        body_text="It has shipped.",
        message_id=message_id_for(55, "inbox2", "acme.test"),
        auto_submitted="auto-generated",
    )
    first = parse_incoming(to_bytes(compose_new(outgoing, marker=subject_marker(7))))
    assert first.in_reply_to is None and first.references == ()
    assert first.is_auto_submitted  # a bot's mail says so, and our own parser honours it
    answer = corpus.crlf(
        f"From: Mia <mia@example.com>\nTo: support@acme.test\nSubject: Re: {first.subject}\n"
        f"Message-ID: <mia-1@example.com>\nIn-Reply-To: {first.message_id}\n"
        f"References: {first.message_id}\n\nThanks!\n\n"
        f"On Mon, 3 Mar 2025 at 10:00, Helpbot <support@acme.test> wrote:\n> It has shipped.\n"
    )
    reply = parse_incoming(answer)
    ref = own_message_ref(reply.in_reply_to)
    assert (ref.message_id, ref.inbox_uid) == (55, "inbox2")
    assert find_subject_marker(reply.subject) == 7
    assert reply.visible_text == "Thanks!"
