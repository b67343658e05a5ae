"""Conversations, their messages, labels and the bot's drafts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from deskwoot.models.base import Base, JSONType, UTCDateTime, utcnow

STATUSES = ("open", "pending", "snoozed", "resolved")
PRIORITIES = ("none", "low", "medium", "high", "urgent")
MESSAGE_KINDS = ("incoming", "outgoing", "note", "activity")
SENDER_TYPES = ("contact", "user", "bot", "system")
DRAFT_STATUSES = ("pending", "approved", "rejected", "superseded")


class Label(Base):
    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    color: Mapped[str] = mapped_column(String(7), default="#6b7280")
    description: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ConversationLabel(Base):
    __tablename__ = "conversation_labels"
    __table_args__ = (Index("ix_conversation_labels_label", "label_id", "conversation_id"),)

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    label_id: Mapped[int] = mapped_column(
        ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True
    )


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("workspace_id", "display_id"),
        CheckConstraint(f"status IN {STATUSES}", name="status"),
        CheckConstraint(f"priority IN {PRIORITIES}", name="priority"),
        # One index per list the product ships: by status, inbox, assignee, priority, recency.
        Index("ix_conversations_ws_activity", "workspace_id", "last_activity_at"),
        Index("ix_conversations_ws_status", "workspace_id", "status", "last_activity_at"),
        Index(
            "ix_conversations_ws_inbox", "workspace_id", "inbox_id", "status", "last_activity_at"
        ),
        Index("ix_conversations_ws_assignee", "workspace_id", "assignee_id", "last_activity_at"),
        Index("ix_conversations_ws_priority", "workspace_id", "priority", "last_activity_at"),
        Index("ix_conversations_ws_updated", "workspace_id", "updated_at"),
        Index("ix_conversations_contact", "contact_id", "inbox_id", "status"),
        Index("ix_conversations_snoozed", "workspace_id", "status", "snoozed_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    display_id: Mapped[int]
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    subject: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(10), default="open")
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    priority: Mapped[str] = mapped_column(String(8), default="none")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    custom_attributes: Mapped[dict] = mapped_column(JSONType, default=dict)
    # A human has taken over: the bot may note and draft but not reply (ARCHITECTURE §6).
    handoff: Mapped[bool] = mapped_column(Boolean, default=False)
    handoff_reason: Mapped[str | None] = mapped_column(String(500))
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    inbox = relationship("Inbox")
    contact = relationship("Contact")
    assignee = relationship("User", foreign_keys=[assignee_id])
    labels: Mapped[list[Label]] = relationship(
        secondary="conversation_labels", order_by="Label.name"
    )


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # Inbound dedupe: a channel's message id is unique within its inbox.
        UniqueConstraint("inbox_id", "source_id"),
        CheckConstraint(f"kind IN {MESSAGE_KINDS}", name="kind"),
        CheckConstraint(f"sender_type IN {SENDER_TYPES}", name="sender_type"),
        Index("ix_messages_conversation", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    sender_type: Mapped[str] = mapped_column(String(8))
    sender_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL")
    )
    sender_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("mcp_tokens.id", ondelete="SET NULL"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    source_id: Mapped[str | None] = mapped_column(String(255))
    delivery_status: Mapped[str | None] = mapped_column(String(12))
    # Email only: the whole text the customer sent (quoted history and signature included;
    # `body` is what they wrote this time), and the mail's identity and addressing
    # (ARCHITECTURE §13): {"message_id", "in_reply_to", "references", "from", "to", "cc",
    # "subject", "from_html", "noise"}. An outgoing email reply reads the customer's last
    # `mail` to thread under it.
    full_body: Mapped[str | None] = mapped_column(Text)
    mail: Mapped[dict | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    sender_user = relationship("User", foreign_keys=[sender_user_id])
    sender_contact = relationship("Contact", foreign_keys=[sender_contact_id])
    approved_by = relationship("User", foreign_keys=[approved_by_id])
    token = relationship("McpToken")


class Attachment(Base):
    """A file that came with a message (an email's attachments, a teammate's reply upload).

    The bytes live outside the web root, content-addressed under the instance folder
    (services/conversations/attachments.py); the row is what teammates and agents see. An
    attachment refused by a limit keeps its row with `skipped` saying why and no bytes.
    """

    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_message", "message_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str | None] = mapped_column(String(64))  # None when skipped
    content_id: Mapped[str | None] = mapped_column(String(255))
    skipped: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Draft(Base):
    __tablename__ = "drafts"
    __table_args__ = (
        CheckConstraint(f"status IN {DRAFT_STATUSES}", name="status"),
        Index("ix_drafts_ws_status", "workspace_id", "status", "created_at"),
        Index("ix_drafts_conversation", "conversation_id", "status"),
        Index("ix_drafts_token", "token_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("mcp_tokens.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    note_to_reviewer: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    final_body: Mapped[str | None] = mapped_column(Text)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    conversation = relationship("Conversation")
    reviewer = relationship("User", foreign_keys=[reviewer_id])
    token = relationship("McpToken")
