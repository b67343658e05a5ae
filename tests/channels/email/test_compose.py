"""Outgoing mail: headers, threading, encoding and header-injection safety."""

from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from deskwoot.channels.email.compose import (
    OutgoingMail,
    UnsendableMail,
    compose_new,
    compose_reply,
    to_bytes,
)
from deskwoot.channels.email.identity import message_id_for, subject_marker

WHEN = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


def mail(**overrides) -> OutgoingMail:
    values = {
        "inbox_address": "support@acme.test",
        "inbox_name": "Acme Support",
        "sender_display": "Ada from Acme Support",
        "to_address": "john@example.com",
        "to_name": "John Smith",
        "subject": "Printer offline",
        "body_text": "Hi John,\n\nplease switch it off and on again.\n\nAda",
        "message_id": message_id_for(17, "inbox1", "acme.test"),
        "in_reply_to": "<CAFx9=abc@mail.gmail.com>",
        "references": ("<root@mail.gmail.com>",),
        "date": WHEN,
    }
    values.update(overrides)
    return OutgoingMail(**values)


def reparse(msg):
    """What a receiving server sees: the bytes on the wire, parsed again."""
    return message_from_bytes(to_bytes(msg), policy=policy.default)


def content(received) -> str:
    return received.get_content().replace("\r\n", "\n").replace("\r\n", "\n")


def test_a_reply_threads_under_the_customers_last_message():
    received = reparse(compose_reply(mail()))
    assert received["From"].addresses[0].display_name == "Ada from Acme Support"
    assert received["From"].addresses[0].addr_spec == "support@acme.test"
    assert str(received["To"]) == "John Smith <john@example.com>"
    assert str(received["Reply-To"]) == "Acme Support <support@acme.test>"
    assert received["Subject"] == "Re: Printer offline"
    assert received["Message-ID"] == "<deskwoot.m17.inbox1@acme.test>"
    assert received["In-Reply-To"] == "<CAFx9=abc@mail.gmail.com>"
    assert received["References"] == "<root@mail.gmail.com> <CAFx9=abc@mail.gmail.com>"
    assert received["Date"].datetime == WHEN
    assert received["Auto-Submitted"] is None  # a person's reply
    assert received.get_content_type() == "text/plain"
    assert content(received) == "Hi John,\n\nplease switch it off and on again.\n\nAda\n"


def test_the_same_message_composes_to_the_same_bytes():
    # A redelivery after a crash must be the same message, not a second one.
    assert to_bytes(compose_reply(mail())) == to_bytes(compose_reply(mail()))


def test_reply_subject_does_not_stack_and_carries_the_marker_when_asked():
    msg = compose_reply(mail(subject="RE: Aw: Printer offline"), marker=subject_marker(42))
    assert reparse(msg)["Subject"] == "Re: Printer offline [#42]"


def test_a_new_conversation_starts_a_new_thread():
    msg = compose_new(mail(in_reply_to=None, references=(), subject="Your order"))
    received = reparse(msg)
    assert received["Subject"] == "Your order"
    assert received["In-Reply-To"] is None and received["References"] is None
    with pytest.raises(UnsendableMail):
        compose_new(mail())  # threading headers on a new thread is a caller's mistake


def test_non_ascii_names_subject_and_body_are_encoded():
    msg = compose_reply(
        mail(
            sender_display="Zoë from Acme, “EU” Support",
            to_name="Jürgen Müller",
            subject="Rechnung für März",
            body_text="Grüße aus Köln — 日本語",
        )
    )
    wire = to_bytes(msg)
    assert wire.isascii()  # RFC 2047 headers, quoted-printable body: no 8BITMIME needed
    received = reparse(msg)
    assert received["From"].addresses[0].display_name == "Zoë from Acme, “EU” Support"
    assert received["To"].addresses[0].display_name == "Jürgen Müller"
    assert received["Subject"] == "Re: Rechnung für März"
    assert content(received).strip() == "Grüße aus Köln — 日本語"


@pytest.mark.parametrize(
    "field",
    ["subject", "to_name", "sender_display", "inbox_name"],
)
@pytest.mark.parametrize(
    "attack",
    [
        "Hi\r\nBcc: victim@evil.example",
        "Hi\nBcc: victim@evil.example",
        "Hi\rBcc: victim@evil.example",
        "Hi\r\n\r\nInjected body",
        "Hi\x00\x0bBcc: victim@evil.example",
        "Hi\u2028Bcc: victim@evil.example",
        "=?utf-8?q?Hi=0D=0ABcc:_victim@evil.example?=",
    ],
)
def test_header_injection_never_adds_a_header(field, attack):
    wire = to_bytes(compose_reply(mail(**{field: attack})))
    received = message_from_bytes(wire, policy=policy.default)
    assert received["Bcc"] is None
    assert sorted(received.keys()) == sorted(
        [
            "From", "To", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To",
            "References", "Content-Type", "Content-Transfer-Encoding", "MIME-Version",
        ]
    )  # fmt: skip
    assert b"\r\nBcc:" not in wire and b"\nBcc:" not in wire
    assert content(received).startswith("Hi John")


def test_hostile_ids_from_the_customer_are_dropped_not_sent():
    msg = compose_reply(
        mail(in_reply_to="<a b@x>\r\nBcc: v@evil", references=("<ok@x>", "<bad\x00@x>"))
    )
    received = reparse(msg)
    assert received["Bcc"] is None
    assert received["In-Reply-To"] is None  # '<a b@x>' is not an id
    assert received["References"] == "<ok@x> <bad@x>"  # the NUL stripped


@pytest.mark.parametrize(
    "address", ["not-an-address", "a@b\r\nBcc: x@y", "", "jürgen@beispiel.de", "a@-bad-.com"]
)
def test_unusable_addresses_are_refused(address):
    with pytest.raises(UnsendableMail):
        compose_reply(mail(to_address=address))


def test_idn_domains_are_encoded():
    received = reparse(compose_reply(mail(to_address="kunde@bücher.example")))
    assert received["To"].addresses[0].addr_spec == "kunde@xn--bcher-kva.example"


def test_auto_submitted_only_when_asked_and_only_rfc_3834_values():
    received = reparse(compose_reply(mail(auto_submitted="auto-generated")))
    assert received["Auto-Submitted"] == "auto-generated"
    with pytest.raises(UnsendableMail):
        compose_reply(mail(auto_submitted="yes\r\nBcc: x@y"))


def test_long_references_are_capped_keeping_root_and_parent():
    refs = tuple(f"<m{i}@x>" for i in range(100))
    received = reparse(compose_reply(mail(references=refs)))
    ids = received["References"].split()
    assert len(ids) == 20
    assert ids[0] == "<m0@x>" and ids[-1] == "<CAFx9=abc@mail.gmail.com>"


def test_long_lines_and_odd_line_ends_in_the_body_survive():
    body = "x" * 2000 + "\r\nsecond\rthird\n"
    received = reparse(compose_reply(mail(body_text=body)))
    assert content(received) == "x" * 2000 + "\nsecond\nthird\n"
