"""Email inboxes, outgoing: a message as a threaded email, sent over the inbox's SMTP server.

`deliver(outgoing, config)` is the worker's email deliverer (ARCHITECTURE §12). It builds the
mail with the pure core (compose.py, identity.py) from the plain data the delivery service
loaded (services/delivery/outbox.py: `Outgoing.email`) and sends it with smtp.py, which
maps what the server or network did to the Outcome:

- From is the inbox's address under the sender's name ("Ada Lovelace from Acme Support"; a
  bot by its own name), Reply-To the inbox, To the contact.
- A reply threads under the customer's last email (In-Reply-To it, References its chain),
  or, in an outbound conversation, under our own previous message; subject
  "Re: <subject> [#display id]". The first message of an outbound conversation starts a
  new thread ("<subject> [#display id]", no In-Reply-To).
- Message-ID is `identity.message_id_for(message id, inbox uid, inbox domain)` and Date the
  message's creation time: a redelivery after a crash is the same message, and receivers
  drop the copy.
- The reply's files go as MIME attachments.

What cannot be sent without someone changing something fails at once with a sentence for
the teammate: no SMTP server or address on the inbox, a contact without an email address, a
credential the server's SECRET_KEY cannot open, a value no header can carry (UnsendableMail).
"""

from __future__ import annotations

import re
from email.message import EmailMessage

from deskwoot.channels.email import compose, identity, smtp
from deskwoot.channels.outcomes import Failed, Outcome
from deskwoot.services.delivery.outbox import EmailDetails, MailAttachment, Outgoing

NO_DETAILS = "This message is not in an email inbox, so it cannot be emailed."
NO_SMTP = (
    "The inbox has no SMTP server set up, so the reply cannot be emailed: add one under "
    "Settings → Inboxes."
)
NO_ADDRESS = "The inbox has no email address to send from: add one under Settings → Inboxes."
NO_CONTACT_EMAIL = "The contact has no email address, so the reply cannot be emailed."
MAX_FILENAME_CHARS = 150
_TOKEN = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")  # a MIME type or subtype


def deliver(outgoing: Outgoing, config) -> Outcome:
    details = outgoing.email
    if details is None:
        return Failed(NO_DETAILS)
    if details.problem:
        return Failed(details.problem)
    if not details.inbox_address:
        return Failed(NO_ADDRESS)
    if not details.smtp_url:
        return Failed(NO_SMTP)
    if not outgoing.contact_email:
        return Failed(NO_CONTACT_EMAIL)
    try:
        message = build(outgoing, details)
    except compose.UnsendableMail as exc:
        return Failed(f"The reply cannot be sent as email: {exc}.")
    return smtp.send_message(
        details.smtp_url, message, timeout=float(config["MAIL_TIMEOUT"]), reuse=True
    )


def build(outgoing: Outgoing, details: EmailDetails) -> EmailMessage:
    """The message as it goes on the wire; UnsendableMail when a value cannot be put in it."""
    domain = (details.inbox_address or "").rpartition("@")[2]
    try:
        own_id = identity.message_id_for(outgoing.message_id, details.inbox_uid, domain)
        previous = (
            identity.message_id_for(details.previous_outgoing_id, details.inbox_uid, domain)
            if details.previous_outgoing_id is not None
            else None
        )
    except ValueError as exc:  # the inbox address's domain is not one
        raise compose.UnsendableMail(f"the inbox address {details.inbox_address!r}: {exc}") from exc
    in_reply_to, references = _parent(details, previous)
    mail = compose.OutgoingMail(
        inbox_address=details.inbox_address or "",
        sender_display=details.sender_display,
        to_address=outgoing.contact_email or "",
        to_name=outgoing.contact_name or "",
        inbox_name=details.inbox_name,
        subject=details.subject or f"A message from {details.inbox_name}",
        body_text=outgoing.body,
        message_id=own_id,
        in_reply_to=in_reply_to,
        references=references,
        date=outgoing.created_at,
    )
    marker = identity.subject_marker(outgoing.display_id)
    if details.starts_thread:
        message = compose.compose_new(mail, marker=marker)
    else:
        message = compose.compose_reply(mail, marker=marker)
    for attachment in details.attachments:
        _attach(message, attachment)
    return message


def _parent(details: EmailDetails, previous: str | None) -> tuple[str | None, tuple[str, ...]]:
    """What the message replies to: the customer's last email (with its own chain, or the
    message it answered when it sent no References), else our previous message."""
    customer = details.customer_mail
    if customer is not None and identity.normalise_message_id(customer.message_id):
        chain = customer.references or ((customer.in_reply_to,) if customer.in_reply_to else ())
        return customer.message_id, tuple(chain)
    if previous is not None:
        return previous, ()
    return None, ()


def _attach(message: EmailMessage, attachment: MailAttachment) -> None:
    maintype, _, subtype = attachment.content_type.split(";")[0].strip().lower().partition("/")
    if not (_TOKEN.fullmatch(maintype) and _TOKEN.fullmatch(subtype)) or maintype in (
        "multipart",
        "message",
    ):
        # message/* and multipart/* may not be base64-encoded (RFC 2046): send the bytes as
        # an opaque file rather than have a mail client parse them as part of the message.
        maintype, subtype = "application", "octet-stream"
    # The name is a teammate's or customer's: one line, and no literal RFC 2047 encoded word
    # that a mail client would decode into something else.
    filename = identity.single_line(attachment.filename, limit=MAX_FILENAME_CHARS)
    filename = filename.replace("=?", "=\u200b?") or "attachment"
    message.add_attachment(attachment.data, maintype, subtype, filename=filename)
