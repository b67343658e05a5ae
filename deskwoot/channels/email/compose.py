"""Outgoing mail: a reply or a new conversation as an RFC 5322 message, ready for SMTP.

Pure: plain values in, an `email.message.EmailMessage` (policy SMTP: CRLF, folded headers,
RFC 2047 for non-ASCII names and subjects) out. The delivery worker sends it as is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from deskwoot.channels.email.identity import (
    is_safe_id,
    normalise_message_id,
    references_chain,
    reply_subject,
    safe_domain,
    single_line,
)

# RFC 3834 keywords a machine-written message may carry; people's replies carry none.
AUTO_SUBMITTED_VALUES = frozenset({"auto-generated", "auto-replied"})
MAX_SUBJECT_CHARS = 250
MAX_NAME_CHARS = 120
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UnsendableMail(ValueError):
    """A value that cannot be put into a message (an address that is not one, a bad id)."""


@dataclass(frozen=True)
class OutgoingMail:
    inbox_address: str  # the From address (and Reply-To unless reply_to says otherwise)
    sender_display: str  # "Ada from Acme Support"; for a bot, the bot's name
    to_address: str
    subject: str  # for a reply: the conversation's subject; "Re:" is added here
    body_text: str
    message_id: str  # stable per message: identity.message_id_for(...)
    to_name: str = ""
    inbox_name: str = ""  # display name on Reply-To
    in_reply_to: str | None = None  # the customer's last message
    references: tuple[str, ...] = field(default=())  # that message's References chain
    reply_to: str | None = None
    date: datetime | None = None  # the message's creation time, so a redelivery is identical
    auto_submitted: str | None = None  # only for machine-written mail (RFC 3834)


def _header_text(value: str | None, limit: int) -> str:
    """Customer-chosen text for a header: one line, and no literal RFC 2047 encoded-word —
    the stdlib decodes '=?utf-8?q?a=0D=0ABcc:…?=' when the header is set and would then write
    the decoded CR LF raw (fixed only in later Python releases). A zero-width space after '='
    keeps the text as typed but no longer an encoded word."""
    return single_line(value, limit=limit).replace("=?", "=\u200b?")


def _address(display_name: str, addr_spec: str, what: str) -> Address:
    addr = single_line(addr_spec, limit=320)
    if addr != addr_spec.strip() or "@" not in addr:
        raise UnsendableMail(f"{what} is not an email address: {addr_spec!r}")
    local, _, domain = addr.rpartition("@")
    if not local.isascii() or not local:
        # Non-ASCII local parts need SMTPUTF8 end to end; refuse rather than mangle.
        raise UnsendableMail(f"{what} has a non-ASCII local part: {addr_spec!r}")
    try:
        return Address(
            display_name=_header_text(display_name, MAX_NAME_CHARS),
            addr_spec=f"{local}@{safe_domain(domain)}",
        )
    except (ValueError, IndexError, TypeError) as exc:  # headerregistry's parse errors
        raise UnsendableMail(f"{what} is not an email address: {addr_spec!r}") from exc


def _message_id(value: str | None, what: str) -> str:
    normalised = normalise_message_id(value)
    if not normalised or not is_safe_id(normalised):
        raise UnsendableMail(f"{what} is not a usable message id: {value!r}")
    return normalised


def _body(text: str) -> str:
    # One newline convention (the generator writes CRLF); lone surrogates cannot be encoded.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    return text if text.endswith("\n") else text + "\n"


def _build(mail: OutgoingMail, subject: str, in_reply_to: str | None, refs: list[str]):
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = _address(mail.sender_display, mail.inbox_address, "the inbox address")
    msg["To"] = _address(mail.to_name, mail.to_address, "the recipient")
    msg["Reply-To"] = _address(mail.inbox_name, mail.reply_to or mail.inbox_address, "Reply-To")
    msg["Subject"] = _header_text(subject, MAX_SUBJECT_CHARS)
    date = mail.date or datetime.now(UTC)
    msg["Date"] = format_datetime(date if date.tzinfo else date.replace(tzinfo=UTC))
    msg["Message-ID"] = _message_id(mail.message_id, "message_id")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if refs:
        msg["References"] = " ".join(refs)
    if mail.auto_submitted is not None:
        if mail.auto_submitted not in AUTO_SUBMITTED_VALUES:
            raise UnsendableMail(f"Auto-Submitted must be one of {sorted(AUTO_SUBMITTED_VALUES)}")
        msg["Auto-Submitted"] = mail.auto_submitted
    for name, value in msg.items():
        # The last line of defence against header injection: no header may carry a line break.
        if _CONTROL.search(str(value)):
            raise UnsendableMail(f"the {name} header would contain a control character")
    body = _body(mail.body_text)
    # Quoted-printable keeps non-ASCII text readable and needs no 8BITMIME from the server.
    msg.set_content(body, charset="utf-8", cte=None if body.isascii() else "quoted-printable")
    return msg


def compose_reply(mail: OutgoingMail, *, marker: str | None = None) -> EmailMessage:
    """A reply in the customer's thread: 'Re: <subject>', In-Reply-To the customer's last
    message, References its chain plus that message (capped, most recent last). Ids that are
    unsafe to put in a header are dropped from the chain rather than sent."""
    parent = normalise_message_id(mail.in_reply_to)
    parent = parent if parent and is_safe_id(parent) else None
    refs = [r for r in references_chain(mail.references, parent) if is_safe_id(r)]
    return _build(mail, reply_subject(mail.subject, marker), parent, refs)


def compose_new(mail: OutgoingMail, *, marker: str | None = None) -> EmailMessage:
    """The first message of an outbound conversation: a new thread, no In-Reply-To."""
    if mail.in_reply_to or mail.references:
        raise UnsendableMail("a new conversation starts a new thread: no in_reply_to/references")
    subject = single_line(mail.subject, limit=MAX_SUBJECT_CHARS)
    if marker and marker not in subject:
        subject = f"{subject} {marker}".strip()
    return _build(mail, subject, None, [])


def to_bytes(msg: EmailMessage) -> bytes:
    """The message as the bytes SMTP sends (CRLF line ends)."""
    return msg.as_bytes(policy=policy.SMTP)
