"""Outgoing mail: one pluggable sender, so features that email people are built once.

Features that email people (password resets, invitations) build their `Message` and call
`send`; with no sender registered that is a no-op that answers False, and each feature falls
back to what works without mail (a link shown to the admin, a CLI command for the operator).

With DESKWOOT_SMTP_URL and DESKWOOT_MAIL_FROM set, `install` (called at app start) registers
`to_outbox`: each mail becomes an outbox row (channel "mail", no workspace or message, the
recipient, subject and text in its payload) written in its own transaction, and the delivery
worker sends it (channels/product_mail.py; ARCHITECTURE §12) — so a request never waits for
a mail server, and a mail server that is down only delays the mail. Tests register a sender
that captures the messages with `register_sender`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app

from deskwoot.database.transactions import write_transaction
from deskwoot.models import Outbox, utcnow

log = logging.getLogger(__name__)

EXTENSION = "deskwoot_mail_sender"
PRODUCT_MAIL = "mail"  # the outbox channel (services/delivery/outbox.py reads it back)


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    body: str


Sender = Callable[[Message], None]


def register_sender(app, sender: Sender | None) -> None:
    """Install (or with None, remove) the app's mail sender."""
    if sender is None:
        app.extensions.pop(EXTENSION, None)
    else:
        app.extensions[EXTENSION] = sender


def install(app) -> None:
    """Register the outbox sender when the product's SMTP server and From address are set."""
    if app.config.get("SMTP_URL") and app.config.get("MAIL_FROM"):
        register_sender(app, to_outbox)


def to_outbox(message: Message) -> None:
    """Queue `message` for the delivery worker (the "mail" channel)."""
    with write_transaction() as session:
        session.add(
            Outbox(
                workspace_id=None,
                message_id=None,
                channel=PRODUCT_MAIL,
                payload={"to": message.to, "subject": message.subject, "body": message.body},
                # The mail's identity on the wire (its Message-ID), the same on every attempt.
                delivery_id=f"mail_{secrets.token_hex(12)}",
                created_at=utcnow(),
            )
        )


def configured() -> bool:
    """Whether outgoing mail works: features that only make sense with it (forgot password)
    are hidden until it does."""
    return current_app.extensions.get(EXTENSION) is not None


def send(message: Message) -> bool:
    """Hand the message to the sender; False when there is none or it failed (the caller then
    falls back to its mail-less way, and a failure is logged, never shown to the recipient)."""
    sender = current_app.extensions.get(EXTENSION)
    if sender is None:
        return False
    try:
        sender(message)
    except Exception:
        log.exception("Sending mail to %s failed", message.to)
        return False
    return True


def link(path: str) -> str:
    """An absolute link into this Deskwoot, for mail and the CLI (PUBLIC_URL + path)."""
    return f"{current_app.config['PUBLIC_URL']}{path}"
