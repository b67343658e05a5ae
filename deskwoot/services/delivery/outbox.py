"""Delivering outgoing messages: what the worker hands a channel, and recording the outcome.

The delivery worker (deskwoot/delivery/) claims outbox rows and calls a channel; these are
the service steps on either side of that call (ARCHITECTURE §12). `outgoing` loads a claimed
row as plain data — an `Outgoing` (a message for its inbox's channel; an email message also
carries its `EmailDetails`: the inbox's address and unsealed SMTP URL, the thread to reply
under, the attachments' bytes) or a `ProductMail` (the product's own mail, channel "mail",
which has no message) — in a fixed number of queries, so channels never touch the database.

Each outcome is written in one transaction with its event (`message.delivered` /
`message.failed`), so a poller sees a message's fate exactly when it is recorded; product
mail has no conversation, so no event: its failure is logged. Only the worker that holds the
row's claim may record it: one whose lease ran out (it stalled, another worker took over)
changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from deskwoot.channels.outcomes import Response
from deskwoot.database.transactions import write_transaction
from deskwoot.extensions import db
from deskwoot.models import (
    Attachment,
    Contact,
    Conversation,
    Inbox,
    McpToken,
    Message,
    Outbox,
    User,
    utcnow,
)
from deskwoot.policy import Actor
from deskwoot.services.access.sealed import SealBroken
from deskwoot.services.activity import actor_names as naming
from deskwoot.services.activity import event_recorder as events
from deskwoot.services.conversations import attachments as attachment_store
from deskwoot.services.directory import inboxes
from deskwoot.services.operations.mail import PRODUCT_MAIL
from deskwoot.services.webhooks import EVENT_CHANNEL
from deskwoot.services.webhooks import deliveries as event_deliveries
from deskwoot.services.webhooks.deliveries import EventDelivery

log = logging.getLogger(__name__)

WORKER_NAME = "Delivery worker"


@dataclass(frozen=True)
class CustomerMail:
    """The identity of the customer's last email in the conversation (Message.mail), which an
    email reply threads under."""

    message_id: str
    references: tuple[str, ...] = ()
    in_reply_to: str | None = None


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class EmailDetails:
    """What an email inbox's message needs besides the message itself."""

    inbox_uid: str
    inbox_name: str
    inbox_address: str | None
    smtp_url: str | None
    subject: str | None  # the conversation's
    sender_display: str  # "Ada Lovelace from Acme Support"; a bot by its own name
    # The thread: the customer's last email; else our own previous outgoing message (an
    # outbound conversation); neither and no earlier message at all: a new thread.
    customer_mail: CustomerMail | None
    previous_outgoing_id: int | None
    starts_thread: bool
    attachments: tuple[MailAttachment, ...] = ()
    # Why it cannot be sent at all, found while loading (a credential this SECRET_KEY cannot
    # open, a reply's file missing from the attachment store): the row fails with it.
    problem: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """One claimed outbox row with everything a channel needs to deliver it."""

    outbox_id: int
    delivery_id: str
    attempts: int  # attempts made before this one
    channel: str
    message_id: int
    body: str
    created_at: datetime
    sender_type: str
    sender_name: str
    display_id: int
    contact_id: int
    contact_name: str | None
    contact_email: str | None
    inbox_id: int
    webhook_url: str | None
    webhook_secret: str | None
    email: EmailDetails | None = field(default=None)  # email inboxes only


@dataclass(frozen=True)
class ProductMail:
    """A claimed row of the product's own mail (an invitation, a password reset): no
    workspace, no message; the recipient, subject and text come from the row's payload."""

    outbox_id: int
    delivery_id: str
    attempts: int
    channel: str
    to: str
    subject: str
    body: str
    created_at: datetime


Claimed = Outgoing | ProductMail | EventDelivery

_SenderUser = aliased(User)


def outgoing(outbox_id: int) -> Claimed | None:
    """The claimed row `outbox_id` ready for its channel; None when it is gone (its message or
    workspace was deleted since)."""
    row = db.session.execute(
        select(Outbox, Message, Conversation, Contact, Inbox, _SenderUser.name, McpToken.name)
        .outerjoin(Message, Message.id == Outbox.message_id)
        .outerjoin(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(Inbox, Inbox.id == Conversation.inbox_id)
        .outerjoin(_SenderUser, _SenderUser.id == Message.sender_user_id)
        .outerjoin(McpToken, McpToken.id == Message.token_id)
        .where(Outbox.id == outbox_id)
    ).first()
    if row is None:
        return None
    outbox, message, conversation, contact, inbox, user_name, token_name = row
    if message is None:
        if outbox.channel == EVENT_CHANNEL:
            return event_deliveries.load(outbox)
        return _product_mail(outbox) if outbox.channel == PRODUCT_MAIL else None
    sender = naming.name_actor(message.sender_type, user_name, token_name)
    return Outgoing(
        outbox_id=outbox.id,
        delivery_id=outbox.delivery_id or f"msg_{message.id}",
        attempts=outbox.attempts,
        channel=outbox.channel,
        message_id=message.id,
        body=message.body,
        created_at=message.created_at,
        sender_type=message.sender_type,
        sender_name=sender.name,
        display_id=conversation.display_id,
        contact_id=contact.id,
        contact_name=contact.name,
        contact_email=contact.email,
        inbox_id=inbox.id,
        webhook_url=inbox.webhook_url,
        webhook_secret=inboxes.webhook_secret_of(inbox),
        email=_email_details(message, conversation, inbox, sender)
        if outbox.channel == "email"
        else None,
    )


def _product_mail(outbox: Outbox) -> ProductMail:
    payload = outbox.payload if isinstance(outbox.payload, dict) else {}

    def text(key: str) -> str:
        value = payload.get(key)
        return value if isinstance(value, str) else ""

    return ProductMail(
        outbox_id=outbox.id,
        delivery_id=outbox.delivery_id or f"mail_{outbox.id}",
        attempts=outbox.attempts,
        channel=outbox.channel,
        to=text("to"),
        subject=text("subject"),
        body=text("body"),
        created_at=outbox.created_at,
    )


def sender_display(sender: naming.ActorName, sender_type: str, inbox_name: str) -> str:
    """The From display name: "Ada Lovelace from Acme Support"; a bot is named as the bot;
    anything else (a system actor) as the inbox."""
    if sender.is_bot:
        return sender.name
    if sender_type == "user":
        return f"{sender.name} from {inbox_name}"
    return inbox_name


def _email_details(
    message: Message, conversation: Conversation, inbox: Inbox, sender: naming.ActorName
) -> EmailDetails:
    problem = None
    try:
        smtp_url = inboxes.email_settings(inbox).smtp_url
    except SealBroken as exc:
        smtp_url, problem = None, str(exc)
    customer_mail = _customer_mail(message)
    earlier = dict(
        db.session.execute(
            select(Message.kind, func.max(Message.id))
            .where(
                Message.conversation_id == message.conversation_id,
                Message.id < message.id,
                Message.kind.in_(("incoming", "outgoing")),
            )
            .group_by(Message.kind)
        ).all()
    )
    files, missing = _attachments(message.id)
    if missing and problem is None:
        problem = (
            f"The attached file {missing} is missing from the attachment store "
            "(was instance/attachments moved?); send the reply again with the file."
        )
    return EmailDetails(
        inbox_uid=inbox.uid,
        inbox_name=inbox.name,
        inbox_address=inbox.email_address,
        smtp_url=smtp_url,
        subject=conversation.subject,
        sender_display=sender_display(sender, message.sender_type, inbox.name),
        customer_mail=customer_mail,
        previous_outgoing_id=earlier.get("outgoing"),
        starts_thread=not earlier,
        attachments=files,
        problem=problem,
    )


def _customer_mail(message: Message) -> CustomerMail | None:
    """The identity of the customer's last email before `message`, when it has a usable one
    (Message.mail is written by the inbound side from a stranger's headers: check its shape)."""
    mail = db.session.execute(
        select(Message.mail)
        .where(
            Message.conversation_id == message.conversation_id,
            Message.id < message.id,
            Message.kind == "incoming",
            Message.mail.is_not(None),
        )
        .order_by(Message.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if not isinstance(mail, dict) or not isinstance(mail.get("message_id"), str):
        return None
    references = mail.get("references")
    in_reply_to = mail.get("in_reply_to")
    return CustomerMail(
        message_id=mail["message_id"],
        references=tuple(r for r in references if isinstance(r, str))
        if isinstance(references, list)
        else (),
        in_reply_to=in_reply_to if isinstance(in_reply_to, str) else None,
    )


def _attachments(message_id: int) -> tuple[tuple[MailAttachment, ...], str | None]:
    """The message's stored files with their bytes, and the name of one whose bytes are gone."""
    files = []
    for attachment in db.session.execute(
        select(Attachment)
        .where(Attachment.message_id == message_id, Attachment.sha256.is_not(None))
        .order_by(Attachment.id)
    ).scalars():
        try:
            data = attachment_store.bytes_of(attachment)
        except OSError:
            return tuple(files), attachment.filename
        files.append(MailAttachment(attachment.filename, attachment.content_type, data))
    return tuple(files), None


def _worker_actor(workspace_id: int, claimed_by: str) -> Actor:
    return Actor(
        workspace_id=workspace_id,
        user_id=None,
        kind="system",
        name=WORKER_NAME,
        via="worker",
        extra={"worker": claimed_by},
    )


def _held(session, outbox_id: int, claimed_by: str) -> Outbox | None:
    """The row, if it is still pending and claimed by this worker (and lock it on PostgreSQL,
    so a second worker that took over an expired lease waits for this transaction)."""
    return session.execute(
        select(Outbox)
        .where(
            Outbox.id == outbox_id,
            Outbox.status == "pending",
            Outbox.claimed_by == claimed_by,
        )
        .with_for_update()
    ).scalar_one_or_none()


def _answered(outbox: Outbox, response: Response | None) -> None:
    """Keep what the receiver answered to this attempt (webhook channels), for the log."""
    if response is not None:
        outbox.response_code = response.status
        outbox.response_body = response.snippet[:200] or None
        outbox.duration_ms = response.duration_ms


def _conclude(
    outbox_id: int,
    claimed_by: str,
    status: str,
    error: str | None,
    data: dict,
    response: Response | None = None,
) -> bool:
    """Mark the row and its message `status` ("sent" or "failed") with its event, in one
    transaction; False (and nothing written) when this worker no longer holds the row.
    An event-webhook row has no message and no event (a delivery of the feed must not feed
    it again): its endpoint's run of failures is kept instead."""
    with write_transaction() as session:
        event_deliveries.lock_endpoint_of(session, outbox_id)
        outbox = _held(session, outbox_id, claimed_by)
        if outbox is None:
            return False
        now = utcnow()
        outbox.status = status
        outbox.attempts += 1
        outbox.last_error = error
        _answered(outbox, response)
        if status == "sent":
            outbox.sent_at = now
        else:
            outbox.failed_at = now
        outbox.claimed_by = None
        outbox.claimed_until = None
        if outbox.endpoint_id is not None:
            event_deliveries.concluded(session, outbox, status, error)
            return True
        if outbox.message_id is None:  # product mail: no message, no conversation, no event
            if status == "failed":
                log.warning("product mail %s was not delivered: %s", outbox.delivery_id, error)
            return True
        message = session.get(Message, outbox.message_id)
        conversation = session.get(Conversation, message.conversation_id)
        message.delivery_status = status
        events.append(
            _worker_actor(outbox.workspace_id, claimed_by),
            "message.delivered" if status == "sent" else "message.failed",
            conversation=conversation,
            data={
                "display_id": conversation.display_id,
                "message_id": message.id,
                "delivery_id": outbox.delivery_id,
                "attempts": outbox.attempts,
                **data,
            },
        )
    return True


def mark_sent(
    outbox_id: int, claimed_by: str, note: str | None = None, response: Response | None = None
) -> bool:
    """Record a delivery (`note`: what the teammate should know, e.g. there is no webhook)."""
    return _conclude(outbox_id, claimed_by, "sent", note, {"note": note} if note else {}, response)


def mark_failed(
    outbox_id: int, claimed_by: str, reason: str, response: Response | None = None
) -> bool:
    """Record that the message will not be delivered, with the reason."""
    return _conclude(outbox_id, claimed_by, "failed", reason, {"reason": reason}, response)


def mark_retry(
    outbox_id: int,
    claimed_by: str,
    reason: str,
    next_attempt_at: datetime,
    response: Response | None = None,
) -> bool:
    """Record a transient failure and when to try again; the row stays pending, unclaimed."""
    with write_transaction() as session:
        outbox = _held(session, outbox_id, claimed_by)
        if outbox is None:
            return False
        outbox.attempts += 1
        outbox.last_error = reason
        _answered(outbox, response)
        outbox.next_attempt_at = next_attempt_at
        outbox.claimed_by = None
        outbox.claimed_until = None
    return True
