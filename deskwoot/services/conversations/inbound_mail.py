"""Customer email landing in a conversation: the inbound hook's steps plus threading, the
mail's identity and text, loop protection and attachments (ARCHITECTURE §7, §12).

The adapters (deskwoot/channels/email/inbound.py, fed by the MTA pipe and the IMAP poller)
parse the raw mail and hand over an `InboundMail` of plain data; this module decides where it
belongs and stores it, with its attachments, in one transaction:

- dedupe: the normalised Message-ID is the message's source_id (unique per inbox), so a
  second copy — the MTA retrying, IMAP re-read after UIDVALIDITY changed — is a "duplicate"
  and stores nothing.
- threading, first match wins: one of our own Message-IDs in In-Reply-To/References (its
  conversation, same inbox, and only when the sender is that conversation's contact: our ids
  are sequential, so anyone who got one reply could otherwise write into every conversation
  by guessing numbers); else a References/In-Reply-To id that is an earlier customer mail's
  Message-ID in this inbox; else the subject marker "[#123]", again only for that
  conversation's contact; else a new conversation.
- noise (RFC 3834: auto-replies, bulk, lists) is stored and flagged (`mail.noise`, and
  `auto_submitted` in its message.created event) but never re-opens a conversation, so
  neither a teammate nor an agent mistakes it for a customer waiting.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from deskwoot.database.transactions import write_transaction
from deskwoot.extensions import db
from deskwoot.models import Contact, Conversation, Event, Inbox, Message
from deskwoot.services.conversations import attachments
from deskwoot.services.conversations.inbound import (
    find_by_source,
    inbox_actor,
    reopen,
    store_once,
)
from deskwoot.services.conversations.steps import (
    add_message,
    contact_event_actor,
    open_conversation,
)
from deskwoot.services.directory import contacts as contact_service

# A mail with nothing but attachments (or an empty body) still needs a message body.
EMPTY_BODY = "(no text)"


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content_type: str  # the sniffed type when the bytes were recognisable, else as declared
    size: int
    data: bytes  # empty when skipped
    content_id: str | None = None
    skipped: str | None = None  # why no bytes were kept (a size limit)


@dataclass(frozen=True)
class InboundMail:
    """One parsed customer email, as plain data (the adapter reads the MIME)."""

    source_id: str  # the normalised Message-ID
    sender_email: str
    sender_name: str | None
    subject: str | None
    body: str  # what the customer wrote this time (quotes and signature stripped)
    full_body: str | None  # the whole text, when it differs from `body`
    mail: dict  # Message.mail: message_id, in_reply_to, references, from, to, cc, …
    # Threading hints, most recent first: our own messages it names (message id, inbox uid),
    # every id it answers, and the '[#123]' marker of its subject.
    own_refs: tuple[tuple[int, str], ...] = ()
    reference_ids: tuple[str, ...] = ()
    subject_marker: int | None = None
    noise: tuple[str, ...] = ()  # why it must not be auto-answered; empty for a person's mail
    attachments: tuple[MailAttachment, ...] = ()


@dataclass(frozen=True)
class Landed:
    duplicate: bool  # True when an earlier copy (same Message-ID) was stored
    conversation_id: int
    display_id: int
    message_id: int
    new_conversation: bool


def receive_mail(inbox: Inbox, mail: InboundMail) -> Landed:
    """Store a customer's email in its conversation (or a new one); see the module docstring.
    Raises Invalid for a sender address that is no email address."""
    return store_once(
        inbox,
        mail.source_id,
        lambda: _receive(inbox, mail),
        lambda existing: _landed(existing, duplicate=True),
    )


def _landed(message: Message, *, duplicate: bool, new: bool = False) -> Landed:
    conversation = db.session.get(Conversation, message.conversation_id)
    return Landed(duplicate, conversation.id, conversation.display_id, message.id, new)


def _receive(inbox: Inbox, mail: InboundMail) -> Landed:
    actor = inbox_actor(inbox, via="email")
    with write_transaction() as session:
        existing = find_by_source(inbox.id, mail.source_id)
        if existing is not None:
            return _landed(existing, duplicate=True)
        contact = contact_service.find_or_create_for_inbound(
            actor, inbox.id, {"email": mail.sender_email, "name": mail.sender_name or None}
        )
        conversation = _thread(inbox, contact, mail)
        new = conversation is None
        if new:
            conversation = open_conversation(
                actor, inbox, contact, mail.subject or None, actor_contact=contact
            )
        elif not mail.noise:
            reopen(conversation, actor, contact)
        message = add_message(
            None,
            conversation,
            "incoming",
            mail.body.strip() or EMPTY_BODY,
            sender_type="contact",
            sender_contact_id=contact.id,
            source_id=mail.source_id,
            event_actor=actor,
            event_overrides=contact_event_actor(contact),
        )
        message.full_body = mail.full_body
        message.mail = mail.mail
        if mail.noise:
            _flag_auto_submitted(session, message)
        for item in mail.attachments:
            attachments.add(
                session,
                message,
                item.filename,
                item.content_type,
                item.data,
                content_id=item.content_id,
                skipped=item.skipped,
                size=item.size,
            )
        return Landed(False, conversation.id, conversation.display_id, message.id, new)


def _thread(inbox: Inbox, contact: Contact, mail: InboundMail) -> Conversation | None:
    """The conversation this mail continues, or None for a new one (module docstring)."""
    ours = [message_id for message_id, uid in mail.own_refs if uid == inbox.uid]
    for message_id in ours:
        conversation = db.session.execute(
            select(Conversation)
            .join(Message, Message.conversation_id == Conversation.id)
            .where(Message.id == message_id, Message.inbox_id == inbox.id)
        ).scalar_one_or_none()
        if conversation is not None and conversation.contact_id == contact.id:
            return conversation
    if mail.reference_ids:
        conversation = db.session.execute(
            select(Conversation)
            .join(Message, Message.conversation_id == Conversation.id)
            .where(
                Message.inbox_id == inbox.id,
                Message.kind == "incoming",
                Message.source_id.in_(list(mail.reference_ids)),
            )
            .order_by(Message.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if conversation is not None:
            return conversation
    if mail.subject_marker is not None:
        return db.session.execute(
            select(Conversation).where(
                Conversation.workspace_id == inbox.workspace_id,
                Conversation.display_id == mail.subject_marker,
                Conversation.inbox_id == inbox.id,
                Conversation.contact_id == contact.id,
            )
        ).scalar_one_or_none()
    return None


def _flag_auto_submitted(session, message: Message) -> None:
    """Mark the message.created event add_message just appended (still pending in this
    session) as machine-written, so an agent polling events knows not to answer it."""
    for pending in session.new:
        if (
            isinstance(pending, Event)
            and pending.type == "message.created"
            and (pending.data or {}).get("message_id") == message.id
        ):
            pending.data = {**pending.data, "auto_submitted": True}
