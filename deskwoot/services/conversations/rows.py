"""The plain rows the read paths return (services/conversations/reads.py).

The hot reads run prebuilt Core statements (ARCHITECTURE §1) and hand back these small
frozen classes instead of ORM objects. Their attribute names are the models' own
(`conv.inbox.name`, `msg.sender_user.name`, `conv.contact.display_name`), so the MCP views,
the naming rule (services/activity/actor_names.py) and the templates read a row and an ORM
object alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from deskwoot.models import Contact
from deskwoot.services.conversations.attachments import AttachmentRow


@dataclass(frozen=True, slots=True)
class Ref:
    """Something a row names by id and name: an inbox, a message's sender or approver."""

    id: int
    name: str | None


InboxRef = Ref


@dataclass(frozen=True, slots=True)
class UserRef:
    """A conversation's assignee."""

    id: int
    name: str
    email: str | None


@dataclass(frozen=True, slots=True)
class ContactRef:
    """A conversation's contact."""

    id: int
    name: str | None
    email: str | None
    identifier: str | None
    phone: str | None

    @property
    def display_name(self) -> str:
        return Contact.display_name.fget(self)  # the model's own rule


@dataclass(frozen=True, slots=True)
class LabelRef:
    name: str
    color: str


@dataclass(frozen=True, slots=True)
class TokenRef:
    """The MCP token a bot message was sent with (by its name)."""

    name: str


@dataclass(frozen=True, slots=True)
class DeliveryRef:
    """How an outgoing message's delivery went (its outbox row): pending, sent or failed.

    A sent row's `last_error` is the channel's note, not an error (an API inbox without a
    webhook is "sent" nowhere: channels/api_webhook.NO_WEBHOOK); `note` reads it as such.
    """

    status: str
    attempts: int
    last_error: str | None
    delivered_at: datetime | None
    next_attempt_at: datetime | None = None  # pending after a failure: when it tries again

    @property
    def note(self) -> str | None:
        return self.last_error if self.status == "sent" else None

    @property
    def error(self) -> str | None:
        return None if self.status == "sent" else self.last_error


@dataclass(frozen=True, slots=True)
class ConversationRow:
    id: int
    display_id: int
    subject: str | None
    status: str
    snoozed_until: datetime | None
    priority: str
    handoff: bool
    handoff_reason: str | None
    custom_attributes: dict[str, Any] | None
    last_activity_at: datetime
    created_at: datetime
    inbox: InboxRef
    contact: ContactRef
    assignee: UserRef | None
    labels: list[LabelRef]


@dataclass(frozen=True, slots=True)
class MessageRow:
    id: int
    conversation_id: int
    kind: str
    sender_type: str
    body: str
    created_at: datetime
    sender_contact: Ref | None  # the contact's own name: the naming rule falls back from it
    sender_user: Ref | None
    approved_by: Ref | None
    token: TokenRef | None
    delivery: DeliveryRef | None = None  # outgoing messages only
    # Filled by reads.messages (one query per page); empty on rows read one at a time.
    attachments: list[AttachmentRow] = field(default_factory=list)
    auto_submitted: bool = False  # an email flagged as automatic (Message.mail["noise"])
