"""The email module against real servers: a reply composed here goes out over SMTP (smtplib to
an aiosmtpd sink) with its threading headers intact, and the customer's answer, stored in a
real IMAP mailbox (dovecot), is fetched back the way the poller will (UIDVALIDITY, UID
SEARCH, UID FETCH) and threads to our message. Also the sink's faults and AUTH, as the
delivery worker's fault tests will use them, and the IMAP server's TLS and logins.
No mocks: tests/mail_servers.py runs the servers.
"""

from __future__ import annotations

import imaplib
import re
import smtplib
import ssl
import time
from dataclasses import replace
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from deskwoot.channels.email.compose import OutgoingMail, compose_reply, to_bytes
from deskwoot.channels.email.identity import (
    OwnMessageRef,
    message_id_for,
    own_message_ref,
    subject_marker,
)
from deskwoot.channels.email.parse import IncomingMail, parse_incoming
from tests.channels.email import corpus
from tests.mail_servers import ImapAccount, SmtpSink, expect_ok

pytestmark = pytest.mark.mail

SUPPORT = "support@acme.test"
OUR_ID = "<deskwoot.m18.inbox1@acme.test>"


def send(sink: SmtpSink, raw: bytes, *, to: str = "john@example.com", login=None) -> dict:
    """One message through smtplib, as the delivery worker will send it."""
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as smtp:
        if login:
            smtp.login(*login)
        return smtp.sendmail(SUPPORT, [to], raw)


def our_reply(customer: IncomingMail) -> bytes:
    return to_bytes(
        compose_reply(
            OutgoingMail(
                inbox_address=SUPPORT,
                inbox_name="Acme Support",
                sender_display="Ada from Acme Support",
                to_address=customer.from_address,
                to_name=customer.from_name,
                subject=customer.subject,
                body_text="Hi John,\n\nglad it works again — Grüße!\n\nAda",
                message_id=message_id_for(18, "inbox1", "acme.test"),
                in_reply_to=customer.message_id,
                references=customer.references,
                date=datetime(2025, 3, 3, 11, 0, tzinfo=UTC),
            ),
            marker=subject_marker(42),
        )
    )


def customers_answer(ours: IncomingMail) -> bytes:
    """John answers our reply from his mail client: quoting us, threading to our id."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = "John Smith <john@example.com>"
    msg["To"] = "Acme Support <support@acme.test>"
    msg["Subject"] = ours.subject
    msg["Date"] = format_datetime(datetime(2025, 3, 3, 11, 30, tzinfo=UTC))
    msg["Message-ID"] = "<CAFx9=answer2@mail.gmail.com>"
    msg["In-Reply-To"] = ours.message_id
    msg["References"] = " ".join((*ours.references, ours.message_id))
    quoted = "\n".join(f"> {line}" if line else ">" for line in ours.text.splitlines())
    msg.set_content(
        "One more question: does the warranty cover the toner?\n\n"
        f"On Mon, 3 Mar 2025 at 11:00, Ada from Acme Support <{SUPPORT}> wrote:\n{quoted}\n"
    )
    return msg.as_bytes()


def test_a_reply_goes_out_over_smtp_and_the_answer_threads_back_over_imap(
    smtp_sink, imap_mailbox: ImapAccount
):
    customer = parse_incoming(corpus.GMAIL_REPLY_EN)
    raw = our_reply(customer)

    # Out: exactly one message at the SMTP server, with our identity and threading headers.
    assert send(smtp_sink, raw) == {}
    [got] = smtp_sink.messages()
    assert (got.mail_from, got.rcpt_tos) == (SUPPORT, ("john@example.com",))
    assert got.data == raw  # byte for byte what compose made (CRLF, dot-unstuffed)
    headers = got.parsed()
    assert headers["Message-ID"] == OUR_ID
    assert headers["In-Reply-To"] == customer.message_id == "<CAFx9=abc123@mail.gmail.com>"
    assert headers["References"].split() == [*customer.references, customer.message_id]
    assert headers["Subject"] == "Re: Printer offline [#42]"
    assert "Auto-Submitted" not in headers  # a person's reply
    ours = parse_incoming(got.data)

    # In: the customer's answer lands in the mailbox (APPEND, as their provider delivers it).
    answer = customers_answer(ours)
    with imap_mailbox.connect() as imap:
        status, data = imap.append(
            imap_mailbox.folder, None, imaplib.Time2Internaldate(time.time()), answer
        )
        assert status == "OK", data
        appended = re.search(rb"\[APPENDUID (\d+) (\d+)\]", data[0])  # UIDPLUS, RFC 4315
        assert appended, data

    # The poller's view, in a new session: remember UIDVALIDITY and the UIDs taken.
    with imap_mailbox.connect() as imap:
        expect_ok(imap.select(imap_mailbox.folder))
        _, [uidvalidity] = imap.response("UIDVALIDITY")
        assert uidvalidity == appended.group(1)
        [unseen] = expect_ok(imap.uid("SEARCH", "UNSEEN"))
        assert unseen.split() == [appended.group(2)]
        uid = unseen.split()[0]
        fetched = expect_ok(imap.uid("FETCH", uid, "(UID BODY.PEEK[])"))
        assert f"UID {int(uid)} ".encode() in fetched[0][0]
        raw_answer = fetched[0][1]
        assert raw_answer == answer  # stored and served unchanged
        # Taken: marked seen, it is not new at the next poll.
        expect_ok(imap.uid("STORE", uid, "+FLAGS", r"(\Seen)"))
        assert expect_ok(imap.uid("SEARCH", "UNSEEN")) == [b""]
        # RFC 3501: "N:*" always includes the highest UID, even below N, so a poller that asks
        # for "last seen + 1 : *" gets the last message again and must drop UIDs it has seen.
        [again] = expect_ok(imap.uid("SEARCH", "UID", f"{int(uid) + 1}:*"))
        assert again.split() == [uid]

    incoming = parse_incoming(raw_answer, own_addresses={SUPPORT})
    assert incoming.in_reply_to == OUR_ID
    assert own_message_ref(incoming.in_reply_to) == OwnMessageRef(18, "inbox1")
    assert incoming.references == (*ours.references, OUR_ID)
    assert incoming.from_address == "john@example.com"
    assert incoming.visible_text == "One more question: does the warranty cover the toner?"
    assert "glad it works again — Grüße!" in incoming.text  # the quote kept for teammates
    assert incoming.noise == () and incoming.bounce is None


def test_the_sink_answers_4xx_to_the_next_messages_then_accepts(smtp_sink):
    raw = our_reply(parse_incoming(corpus.GMAIL_REPLY_EN))
    smtp_sink.fail_next(2, 451)
    for _ in range(2):
        with pytest.raises(smtplib.SMTPResponseException) as failure:
            send(smtp_sink, raw)
        assert failure.value.smtp_code == 451
        assert b"try again later" in failure.value.smtp_error
    assert smtp_sink.messages() == []
    assert send(smtp_sink, raw) == {}
    assert [m.data for m in smtp_sink.messages()] == [raw]


def test_the_sink_answers_5xx_and_keeps_nothing(smtp_sink):
    raw = our_reply(parse_incoming(corpus.GMAIL_REPLY_EN))
    smtp_sink.fail_next(1, 550, "5.1.1 <john@example.com>: user unknown")
    with pytest.raises(smtplib.SMTPResponseException) as failure:
        send(smtp_sink, raw)
    assert failure.value.smtp_code == 550
    assert failure.value.smtp_error == b"5.1.1 <john@example.com>: user unknown"
    assert smtp_sink.messages() == []
    with pytest.raises(ValueError):
        smtp_sink.fail_next(1, 250)


def test_a_stopped_sink_refuses_connections_until_it_starts_again_on_its_port(smtp_sink):
    port = smtp_sink.port
    smtp_sink.stop()
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP(smtp_sink.host, port, timeout=5)
    smtp_sink.start()
    assert smtp_sink.port == port
    assert send(smtp_sink, b"Subject: after the outage\r\n\r\nhello\r\n") == {}
    assert len(smtp_sink.wait_for(1)) == 1


def test_auth_required_right_password_sends_wrong_password_is_refused(make_smtp_sink):
    sink = make_smtp_sink(auth=("outbox", "correct horse"))
    raw = our_reply(parse_incoming(corpus.GMAIL_REPLY_EN))
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as smtp:
        with pytest.raises(smtplib.SMTPResponseException) as anonymous:
            smtp.sendmail(SUPPORT, ["john@example.com"], raw)
        assert anonymous.value.smtp_code == 530  # authentication required
        with pytest.raises(smtplib.SMTPAuthenticationError) as wrong:
            smtp.login("outbox", "battery staple")
        assert wrong.value.smtp_code == 535
    assert sink.messages() == []
    assert send(sink, raw, login=("outbox", "correct horse")) == {}
    [got] = sink.messages()
    assert got.login == "outbox" and got.data == raw


def test_starttls_with_the_sinks_certificate(make_smtp_sink):
    sink = make_smtp_sink(auth=("outbox", "pw"), starttls=True)
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        smtp.starttls(context=ssl.create_default_context(cafile=sink.cafile))
        smtp.login("outbox", "pw")
        smtp.sendmail(SUPPORT, ["john@example.com"], b"Subject: over TLS\r\n\r\nhi\r\n")
    assert [m.login for m in sink.messages()] == ["outbox"]


def test_imap_logins_and_tls(imap_server):
    account = imap_server.account
    with pytest.raises(imaplib.IMAP4.error):
        replace(account, password="not-the-password").connect()
    # STARTTLS on the plain port and implicit TLS on the other, both with the instance's own
    # certificate; a client trusting only the system's CAs refuses it.
    with account.connect(login=False) as imap:
        imap.starttls(ssl_context=account.ssl_context())
        expect_ok(imap.login(account.user, account.password))
    assert imap_server.tls_account is not None
    with imap_server.tls_account.connect() as imap:
        expect_ok(imap.select("INBOX", readonly=True))
    with pytest.raises(ssl.SSLCertVerificationError):
        replace(imap_server.tls_account, cafile=None).connect()
    # The second account is another mailbox, with its own password.
    other = imap_server.other_account
    assert other is not None and other.user != account.user
    with other.connect() as imap:
        expect_ok(imap.select("INBOX", readonly=True))
    with pytest.raises(imaplib.IMAP4.error):
        replace(other, password=account.password).connect()
