"""The product's own mail (invitations, password resets), sent by the delivery worker.

services/operations/mail.py writes each such mail to the outbox (channel "mail") when
DESKWOOT_SMTP_URL and DESKWOOT_MAIL_FROM are set; `deliver` composes it as a plain,
machine-written message (`Auto-Submitted: auto-generated`, RFC 3834, so auto-responders stay
quiet) From MAIL_FROM, and sends it through SMTP_URL with channels/email/smtp.py — the same
retry and failure rules as an inbox's replies (ARCHITECTURE §12). Its Message-ID comes from
the row's delivery id, so a redelivery after a crash is the same message.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import parseaddr

from deskwoot.channels.email import compose, identity, smtp
from deskwoot.channels.outcomes import Failed, Outcome
from deskwoot.services.delivery.outbox import ProductMail

NOT_CONFIGURED = (
    "Outgoing mail is not set up on this server any more (DESKWOOT_SMTP_URL and "
    "DESKWOOT_MAIL_FROM)."
)
DEFAULT_NAME = "Deskwoot"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def deliver(mail: ProductMail, config) -> Outcome:
    server_url, sender = config.get("SMTP_URL"), config.get("MAIL_FROM")
    if not server_url or not sender:
        return Failed(NOT_CONFIGURED)
    if not mail.to:
        return Failed("The mail has no recipient.")
    try:
        message = build(mail, sender)
    except compose.UnsendableMail as exc:
        return Failed(f"The mail cannot be sent: {exc}.")
    return smtp.send_message(server_url, message, timeout=float(config["MAIL_TIMEOUT"]), reuse=True)


def build(mail: ProductMail, sender: str) -> EmailMessage:
    """The mail from `sender` ("Name <address>" or an address); UnsendableMail when a value
    cannot be put into it."""
    name, address = parseaddr(sender)
    if "@" not in address:
        raise compose.UnsendableMail(f"DESKWOOT_MAIL_FROM is not an email address: {sender!r}")
    try:
        domain = identity.safe_domain(address.rpartition("@")[2])
    except ValueError as exc:
        raise compose.UnsendableMail(f"DESKWOOT_MAIL_FROM {sender!r}: {exc}") from exc
    return compose.compose_new(
        compose.OutgoingMail(
            inbox_address=address,
            sender_display=name or DEFAULT_NAME,
            inbox_name=name or DEFAULT_NAME,
            to_address=mail.to,
            subject=mail.subject,
            body_text=mail.body,
            message_id=f"<deskwoot.{_UNSAFE.sub('', mail.delivery_id)[:64]}@{domain}>",
            date=mail.created_at,
            auto_submitted="auto-generated",
        )
    )
