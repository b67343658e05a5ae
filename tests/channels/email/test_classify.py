"""Loop protection (RFC 3834) and bounces (RFC 3464 and text bounces)."""

import pytest

from deskwoot.channels.email.parse import parse_incoming
from tests.channels.email import corpus


def test_out_of_office_is_auto_submitted_noise():
    mail = parse_incoming(corpus.OUT_OF_OFFICE)
    assert mail.is_auto_submitted and mail.is_noise
    assert "x-auto-response-suppress" in mail.noise
    assert mail.bounce is None  # an auto-reply, not a bounce


@pytest.mark.parametrize(
    ("header", "noisy"),
    [
        ("Auto-Submitted: no", False),
        ("Auto-Submitted: auto-generated", True),
        ("Auto-Submitted: auto-replied; owner-email=x@y", True),
        ("Precedence: bulk", True),
        ("Precedence: list", True),
        ("Precedence: junk", True),
        ("Precedence: first-class", False),
        ("X-Auto-Response-Suppress: OOF", True),
        ("List-Id: <dev.lists.example>", True),
        ("List-Unsubscribe: <mailto:u@lists.example>", True),
        ("X-Autoreply: yes", True),
        ("X-Mailer: Thunderbird", False),
    ],
)
def test_noise_headers(header, noisy):
    raw = corpus.crlf(f"From: a@example.com\nSubject: hi\n{header}\n\nhello")
    assert parse_incoming(raw).is_noise is noisy


def test_mail_from_our_own_address_is_noise():
    raw = corpus.crlf("From: Acme <Support@Acme.test>\nSubject: hi\n\nhello")
    assert parse_incoming(raw, own_addresses={"support@acme.test"}).noise == (
        "from our own address",
    )
    assert parse_incoming(raw).noise == ()


def test_postfix_dsn_names_the_message_that_bounced():
    mail = parse_incoming(corpus.POSTFIX_DSN)
    bounce = mail.bounce
    assert bounce is not None and mail.is_noise
    assert bounce.original_message_id == "<deskwoot.m21.inbox1@acme.test>"
    assert bounce.status == "5.1.1" and bounce.permanent
    assert bounce.recipient == "nobody@example.com"
    assert "User unknown" in bounce.diagnostic
    assert "Reporting-MTA" not in mail.text  # the machine-readable parts are not the body


def test_a_dsn_with_the_whole_message_returned_and_a_delay():
    raw = corpus.crlf(
        "From: postmaster@mx.example\nSubject: Delivery delayed\nMIME-Version: 1.0\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=r\n\n"
        "--r\nContent-Type: text/plain\n\nStill trying.\n"
        "--r\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\n"
        "Final-Recipient: rfc822; slow@example.com\nAction: delayed\nStatus: 4.4.1\n\n"
        "--r\nContent-Type: message/rfc822\n\nFrom: support@acme.test\n"
        "Message-ID: <deskwoot.m30.inbox1@acme.test>\nSubject: Re: x\n\nthe reply\n--r--\n"
    )
    bounce = parse_incoming(raw).bounce
    assert bounce.original_message_id == "<deskwoot.m30.inbox1@acme.test>"
    assert (bounce.action, bounce.status, bounce.permanent) == ("delayed", "4.4.1", False)


def test_exim_text_bounce_best_effort():
    mail = parse_incoming(corpus.EXIM_BOUNCE)
    bounce = mail.bounce
    assert bounce is not None and mail.is_noise
    assert bounce.original_message_id == "<deskwoot.m22.inbox1@acme.test>"
    assert bounce.recipient == "gone@hoster.example"
    assert bounce.status == "5.2.1" and bounce.permanent
    assert "Mailbox disabled" in bounce.diagnostic


def test_qmail_bounce_is_detected():
    raw = corpus.crlf(
        "From: MAILER-DAEMON@qmail.example\nReturn-Path: <>\nSubject: failure notice\n\n"
        "Hi. This is the qmail-send program at qmail.example.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n\n"
        "<lost@qmail.example>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"
        "--- Below this line is a copy of the message.\n\n"
        "Message-ID: <deskwoot.m23.inbox1@acme.test>\nSubject: Re: hi\n\nhello\n"
    )
    bounce = parse_incoming(raw).bounce
    assert bounce.recipient == "lost@qmail.example"
    assert bounce.original_message_id == "<deskwoot.m23.inbox1@acme.test>"
    assert bounce.status == "5.1.1"


def test_a_null_return_path_alone_is_not_a_bounce():
    raw = corpus.crlf("Return-Path: <>\nFrom: a@example.com\nSubject: Thanks!\n\nhello")
    assert parse_incoming(raw).bounce is None
