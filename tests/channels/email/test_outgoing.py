"""channels/email/outgoing.py and channels/product_mail.py without a server: what the mail
looks like for odd threads and hostile names, and what fails before any connection."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser

import pytest

from deskwoot.channels import product_mail
from deskwoot.channels.email import compose, outgoing
from deskwoot.channels.outcomes import Failed
from deskwoot.services.delivery.outbox import (
    CustomerMail,
    EmailDetails,
    MailAttachment,
    Outgoing,
    ProductMail,
)

CONFIG = {"MAIL_TIMEOUT": 1, "SMTP_URL": "smtp://127.0.0.1:9", "MAIL_FROM": "desk@acme.test"}
WHEN = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def details(**changes) -> EmailDetails:
    base = EmailDetails(
        inbox_uid="abc123",
        inbox_name="Acme Support",
        inbox_address="support@acme.test",
        smtp_url="smtp://127.0.0.1:9",
        subject="Order 1234",
        sender_display="Ada Lovelace from Acme Support",
        customer_mail=CustomerMail("<c1@mail.example.com>"),
        previous_outgoing_id=None,
        starts_thread=False,
    )
    return replace(base, **changes)


def message(**changes) -> Outgoing:
    base = Outgoing(
        outbox_id=1,
        delivery_id="msg_42",
        attempts=0,
        channel="email",
        message_id=42,
        body="Sorted.",
        created_at=WHEN,
        sender_type="user",
        sender_name="Ada Lovelace",
        display_id=7,
        contact_id=3,
        contact_name="John",
        contact_email="john@example.com",
        inbox_id=1,
        webhook_url=None,
        webhook_secret=None,
        email=details(),
    )
    return replace(base, **changes)


def wire(built) -> object:
    """The message as a receiver parses it."""
    return BytesParser(policy=policy.default).parsebytes(compose.to_bytes(built))


def test_a_reply_without_references_chains_the_message_the_customer_answered():
    customer = CustomerMail("<c2@mail.example.com>", in_reply_to="<c1@mail.example.com>")
    mail = wire(outgoing.build(message(), details(customer_mail=customer)))
    assert mail["In-Reply-To"] == "<c2@mail.example.com>"
    assert mail["References"] == "<c1@mail.example.com> <c2@mail.example.com>"
    assert mail["Message-ID"] == "<deskwoot.m42.abc123@acme.test>"
    assert mail["Date"] == "Fri, 04 Dec 2026 10:00:00 +0000"


def test_an_unusable_customer_id_is_left_out_rather_than_sent():
    customer = CustomerMail("<has space@x>", references=("<ok@x.test>", "<bad\r\nBcc: y@z>"))
    mail = wire(outgoing.build(message(), details(customer_mail=customer)))
    assert mail["Bcc"] is None
    assert "\n" not in (mail["References"] or "")


def test_a_reply_with_no_parent_at_all_is_still_a_reply():
    mail = wire(outgoing.build(message(), details(customer_mail=None)))
    assert mail["Subject"] == "Re: Order 1234 [#7]"
    assert mail["In-Reply-To"] is None


def test_a_new_conversation_without_a_subject_gets_one():
    built = outgoing.build(message(), details(customer_mail=None, subject=None, starts_thread=True))
    assert wire(built)["Subject"] == "A message from Acme Support [#7]"


def test_hostile_attachment_names_and_types_stay_inside_their_part():
    files = (
        MailAttachment("a\r\nContent-Type: text/html\r\n\r\n<script>.txt", "text/plain", b"x"),
        MailAttachment("=?utf-8?q?evil=0D=0ABcc:_y@z?=.pdf", "application/pdf", b"%PDF"),
        MailAttachment("inner.eml", "message/rfc822", b"From: a@b\r\n\r\nhi"),
        MailAttachment("odd.bin", "../../etc; x=y", b"\x00\x01"),
    )
    mail = wire(outgoing.build(message(), details(attachments=files)))
    parts = list(mail.iter_attachments())
    assert [p.get_content_type() for p in parts] == [
        "text/plain",
        "application/pdf",
        "application/octet-stream",
        "application/octet-stream",
    ]
    names = [p.get_filename() for p in parts]
    assert names[0] == "a Content-Type: text/html <script>.txt"
    assert "Bcc" in names[1] and "\n" not in names[1] and "\r" not in names[1]
    assert mail["Bcc"] is None
    assert [p.get_payload(decode=True) for p in parts][2] == b"From: a@b\r\n\r\nhi"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"email": None}, outgoing.NO_DETAILS),
        ({"email": details(inbox_address=None)}, outgoing.NO_ADDRESS),
        ({"email": details(smtp_url=None)}, outgoing.NO_SMTP),
        ({"contact_email": None}, outgoing.NO_CONTACT_EMAIL),
        ({"email": details(problem="The key changed.")}, "The key changed."),
    ],
)
def test_what_cannot_be_sent_fails_before_connecting(changes, reason):
    assert outgoing.deliver(message(**changes), CONFIG) == Failed(reason)


@pytest.mark.parametrize(
    "changes",
    [
        {"email": details(inbox_address="support@not a domain")},
        {"contact_email": "john@example.com\r\nBcc: victim@example.net"},
        {"contact_email": "not-an-address"},
    ],
)
def test_an_address_no_header_can_carry_fails_with_the_reason(changes):
    outcome = outgoing.deliver(message(**changes), CONFIG)
    assert isinstance(outcome, Failed)
    assert outcome.reason.startswith("The reply cannot be sent as email: ")


def product(**changes) -> ProductMail:
    base = ProductMail(1, "mail_abc", 0, "mail", "bea@example.com", "Hi", "Body", WHEN)
    return replace(base, **changes)


def test_product_mail_is_machine_written_from_mail_from():
    mail = wire(product_mail.build(product(), "Acme Desk <desk@acme.test>"))
    assert mail["From"] == "Acme Desk <desk@acme.test>"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Message-ID"] == "<deskwoot.mail_abc@acme.test>"


@pytest.mark.parametrize(
    ("config", "mail", "start"),
    [
        ({**CONFIG, "SMTP_URL": None}, product(), "Outgoing mail is not set up"),
        (CONFIG, product(to=""), "The mail has no recipient"),
        ({**CONFIG, "MAIL_FROM": "nobody"}, product(), "The mail cannot be sent: "),
        (CONFIG, product(to="a@b\r\nBcc: c@d"), "The mail cannot be sent: "),
    ],
)
def test_product_mail_that_cannot_be_sent_fails(config, mail, start):
    outcome = product_mail.deliver(mail, config)
    assert isinstance(outcome, Failed)
    assert outcome.reason.startswith(start)
