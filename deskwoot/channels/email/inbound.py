"""An email arriving for an inbox, from the MTA pipe (`deskwoot email receive`) or the IMAP
poller (imap_poll.py): raw bytes → parse → the conversation service (ARCHITECTURE §7).

What it decides before the service sees the mail:

- mail from the inbox's own address is ignored (a loop: our own reply coming back);
- a bounce (RFC 3464, or a mailer daemon's text) is no customer message: a permanent one
  marks the message it names failed (services/delivery/bounces.py), a temporary one is
  only logged;
- everything else — auto-replies and lists included, flagged as noise — goes to
  services/conversations/inbound_mail.py with its threading hints.

`receive` raises only `UnreadableMail` (input that is no mail at all) and the database's own
errors (unavailable, locked: the caller retries later); anything else a hostile mail can do
ends as a `Received` with a reason, and a log line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app
from sqlalchemy.exc import DBAPIError, OperationalError

from deskwoot.channels.email.identity import find_subject_marker, own_message_ref
from deskwoot.channels.email.parse import Bounce, IncomingMail, UnreadableMail, parse_incoming
from deskwoot.database.availability import is_unavailable
from deskwoot.database.transactions import is_transient
from deskwoot.errors import Invalid
from deskwoot.models import Inbox
from deskwoot.services import validation
from deskwoot.services.conversations import inbound_mail
from deskwoot.services.conversations.inbound_mail import InboundMail, MailAttachment
from deskwoot.services.delivery import bounces

log = logging.getLogger(__name__)

SUBJECT_CHARS = 300  # Conversation.subject

__all__ = ["Received", "UnreadableMail", "receive", "temporary_failure"]


@dataclass(frozen=True)
class Received:
    """What became of one email."""

    status: str  # "stored" | "duplicate" | "bounce" | "ignored"
    display_id: int | None = None
    message_id: int | None = None
    reason: str | None = None

    def line(self) -> str:
        """One line for the pipe's output and the poller's log."""
        bits = []
        if self.display_id is not None:
            bits.append(f"conversation #{self.display_id}")
        if self.message_id is not None:
            bits.append(f"message {self.message_id}")
        text = ", ".join(bits)
        if self.reason:
            text = f"{text} ({self.reason})" if text else self.reason
        return f"{self.status}: {text}" if text else self.status


def receive(inbox: Inbox, raw: bytes) -> Received:
    """Take one raw email for `inbox`; see the module docstring."""
    config = current_app.config
    own = {inbox.email_address.lower()} if inbox.email_address else set()
    mail = parse_incoming(
        raw,
        own_addresses=own,
        max_attachment_bytes=int(config["ATTACHMENT_MAX_BYTES"]),
        max_total_attachment_bytes=int(config["ATTACHMENT_MAX_TOTAL_BYTES"]),
    )
    for defect in mail.defects:
        log.info("inbox %s, mail %s: %s", inbox.id, mail.message_id, defect)
    if mail.from_address and mail.from_address in own:
        return _ignored(inbox, mail, "sent from the inbox's own address")
    if mail.bounce is not None:
        return _bounce(inbox, mail, mail.bounce)
    sender = mail.from_address or mail.reply_to_address
    if not sender:
        return _ignored(inbox, mail, "no sender address")
    try:
        landed = inbound_mail.receive_mail(inbox, _plain(mail, sender))
    except Invalid as exc:  # a sender address the contact rules refuse
        return _ignored(inbox, mail, f"sender {sender!r}: {exc.message}")
    result = Received(
        "duplicate" if landed.duplicate else "stored",
        landed.display_id,
        landed.message_id,
        "not answered: " + ", ".join(mail.noise) if mail.noise else None,
    )
    log.info("inbox %s, mail %s: %s", inbox.id, mail.message_id, result.line())
    return result


def temporary_failure(exc: BaseException) -> bool:
    """Whether `receive` failed for a reason that passes — the database is down, read-only,
    locked, or chose this write as a deadlock victim — so the mail must be offered again
    later (the MTA's exit 75, the poller's next round) rather than dropped."""
    return (
        is_unavailable(exc)
        or isinstance(exc, OperationalError)
        or (isinstance(exc, DBAPIError) and is_transient(exc))
    )


def _ignored(inbox: Inbox, mail: IncomingMail, reason: str) -> Received:
    log.info("inbox %s, mail %s ignored: %s", inbox.id, mail.message_id, reason)
    return Received("ignored", reason=reason)


def _bounce(inbox: Inbox, mail: IncomingMail, bounce: Bounce) -> Received:
    words = bounce.diagnostic or (f"status {bounce.status}" if bounce.status else "no reason")
    reason = f"bounced by the recipient's server: {words}"
    if bounce.recipient:
        reason += f" ({bounce.recipient})"
    if not bounce.permanent:
        log.info("inbox %s: temporary delivery problem reported: %s", inbox.id, reason)
        return Received("bounce", reason=f"temporary, only logged: {words}")
    ref = own_message_ref(bounce.original_message_id)
    recorded = None
    if ref is not None and ref.inbox_uid == inbox.uid:
        recorded = bounces.record_bounce(inbox, ref.message_id, reason)
    if recorded is None:
        log.info(
            "inbox %s: bounce %s names no message of ours (%s)",
            inbox.id,
            mail.message_id,
            bounce.original_message_id,
        )
        return Received("bounce", reason="names no message this inbox sent; ignored")
    note = "already marked failed" if recorded.already_failed else "marked failed"
    log.info("inbox %s: message %s %s: %s", inbox.id, recorded.message_id, note, reason)
    return Received("bounce", recorded.display_id, recorded.message_id, f"{note}: {words}")


def _plain(mail: IncomingMail, sender: str) -> InboundMail:
    """The parsed mail as the service's plain data, with its threading hints."""
    answered = [mail.in_reply_to] if mail.in_reply_to else []
    answered += [r for r in reversed(mail.references) if r not in answered]
    own_refs = []
    for message_id in answered:
        ref = own_message_ref(message_id)
        if ref is not None:
            own_refs.append((ref.message_id, ref.inbox_uid))
    body = _cut(mail.visible_text.strip() or mail.text.strip(), validation.MAX_BODY)
    full = mail.text.strip()
    return InboundMail(
        source_id=mail.message_id,
        sender_email=sender,
        sender_name=mail.from_name or None,
        subject=mail.subject[:SUBJECT_CHARS].strip() or None,
        body=body,
        full_body=full if full and full != body else None,
        mail={
            "message_id": mail.message_id,
            "in_reply_to": mail.in_reply_to,
            "references": list(mail.references),
            "from": sender,
            "from_name": mail.from_name or None,
            "to": list(mail.to),
            "cc": list(mail.cc),
            "subject": mail.subject,
            "from_html": mail.from_html,
            "noise": list(mail.noise),
        },
        own_refs=tuple(own_refs),
        reference_ids=tuple(answered),
        subject_marker=find_subject_marker(mail.subject),
        noise=mail.noise,
        attachments=tuple(
            MailAttachment(
                filename=a.filename,
                content_type=a.sniffed_type or a.content_type,
                size=a.size,
                data=a.data,
                content_id=a.content_id,
                skipped=a.skipped,
            )
            for a in mail.attachments
        ),
    )


def _cut(text: str, limit: int) -> str:
    """A message body within the service's limit; the whole text stays in full_body."""
    if len(text) <= limit:
        return text
    note = "\n\n[… cut here; the whole mail is in its full text]"
    return text[: limit - len(note)].rstrip() + note
