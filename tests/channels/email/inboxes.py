"""An email inbox for the incoming-mail tests, and mail addressed to it."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import select

from deskwoot.extensions import db
from deskwoot.models import Conversation, Event, Inbox, Message, utcnow
from deskwoot.services.access import sealed
from tests import factories as f

ADDRESS = "support@acme.test"


def email_inbox(workspace=None, imap_url: str | None = None, name: str = "Support") -> Inbox:
    workspace = workspace or f.make_workspace(slug="acme")
    inbox = f.make_inbox(workspace, name=name)
    inbox.channel = "email"
    inbox.email_address = ADDRESS
    inbox.imap_url = sealed.seal(imap_url)
    db.session.commit()
    return inbox


def mail(
    body: str = "Hello, my order has not arrived.",
    *,
    sender: str = "Jane Doe <jane@example.com>",
    subject: str = "Order 1042",
    message_id: str = "<first@example.com>",
    headers: dict | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ADDRESS
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes()


def messages(inbox: Inbox | int) -> list[Message]:
    inbox_id = inbox if isinstance(inbox, int) else inbox.id
    db.session.rollback()
    return list(
        db.session.execute(
            select(Message).where(Message.inbox_id == inbox_id).order_by(Message.id)
        ).scalars()
    )


def conversation(display_id: int) -> Conversation:
    db.session.rollback()
    return db.session.execute(
        select(Conversation).where(Conversation.display_id == display_id)
    ).scalar_one()


def events(type_: str) -> list[Event]:
    db.session.rollback()
    return list(
        db.session.execute(select(Event).where(Event.type == type_).order_by(Event.id)).scalars()
    )
