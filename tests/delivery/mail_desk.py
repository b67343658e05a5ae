"""For the email delivery tests: `MailDesk`, a workspace with an email inbox whose SMTP server
is a real sink (tests/mail_servers.py), a teammate "Ada Lovelace", and customers who wrote in
by email (their message carries the `mail` identity the inbound side stores)."""

from __future__ import annotations

from email.message import EmailMessage

from sqlalchemy import select

from deskwoot.channels.email import identity
from deskwoot.database.transactions import write_transaction
from deskwoot.extensions import db
from deskwoot.models import Conversation, Event, Inbox, Message, Outbox
from deskwoot.services.access import sealed
from deskwoot.services.conversations import workflow
from deskwoot.services.directory import inboxes
from tests import factories as f

ADDRESS = "support@acme.test"
INBOX_NAME = "Acme Support"


def sink_url(sink, login: str = "") -> str:
    return f"smtp://{login}{sink.host}:{sink.port}"


class MailDesk:
    def __init__(self, smtp_url: str | None):
        self.workspace = f.make_workspace()
        self.agent = f.make_user(self.workspace, role="admin", name="Ada Lovelace")
        self.actor = f.actor_for(self.agent, self.workspace)
        self.inbox, _ = inboxes.create_inbox(self.actor, INBOX_NAME, "email")
        self.set_smtp(smtp_url)

    def set_smtp(self, url: str | None, *, raw: str | None = None) -> None:
        """Point the inbox at an SMTP server (stored sealed, as Settings will); `raw` stores
        the column as given (a broken seal)."""
        with write_transaction() as session:
            inbox = session.get(Inbox, self.inbox.id)
            inbox.email_address = ADDRESS
            inbox.smtp_url = raw if raw is not None else sealed.seal(url)

    def customer_wrote(
        self,
        subject: str = "Order 1234",
        email: str = "john@example.com",
        name: str = "John Smith",
        message_id: str = "<CAF1234@mail.example.com>",
        references: list[str] | None = None,
    ) -> Conversation:
        """A conversation opened by the customer's email, with its mail identity stored."""
        contact = f.make_contact(self.workspace, name=name, email=email)
        conversation = f.make_conversation(self.inbox, contact, subject=subject)
        with write_transaction() as session:
            message = session.execute(
                select(Message).where(Message.conversation_id == conversation.id)
            ).scalar_one()
            message.mail = {
                "message_id": message_id,
                "references": references or [],
                "in_reply_to": (references or [None])[-1],
                "subject": subject,
            }
        return conversation

    def start(self, contact: dict, subject: str, body: str) -> tuple[Conversation, Message]:
        """An outbound conversation: the team writes first."""
        return workflow.start_conversation(
            self.actor, self.inbox.id, body, contact=contact, subject=subject
        )

    def reply(self, conversation: Conversation, body: str = "Your order is on its way.") -> Message:
        return workflow.reply(self.actor, conversation.display_id, body)

    def message_id(self, message: Message) -> str:
        return identity.message_id_for(message.id, self.inbox.uid, "acme.test")

    def outbox(self, message_id: int) -> Outbox:
        db.session.rollback()
        return db.session.execute(
            select(Outbox).where(Outbox.message_id == message_id)
        ).scalar_one()

    def events(self, event_type: str) -> list[Event]:
        db.session.rollback()
        return list(
            db.session.execute(
                select(Event).where(
                    Event.workspace_id == self.workspace.id, Event.type == event_type
                )
            ).scalars()
        )


def text_of(mail: EmailMessage) -> str:
    """The text part, with the wire's CRLF line ends read back as newlines."""
    return mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
