"""Workspaces, the people in them, their inboxes, and invitations to join."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from deskwoot.models.base import Base, JSONType, UTCDateTime, utcnow

PLANS = ("trial", "starter", "business", "enterprise")
ROLES = ("admin", "agent")
USER_KINDS = ("human", "bot")
CHANNELS = ("api", "email", "web")


class Workspace(Base):
    __tablename__ = "workspaces"
    __table_args__ = (CheckConstraint(f"plan IN {PLANS}", name="plan"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    plan: Mapped[str] = mapped_column(String(16), default="trial")
    trial_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    mcp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    bot_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    next_display_id: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(back_populates="workspace")
    inboxes: Mapped[list[Inbox]] = relationship(back_populates="workspace", order_by="Inbox.name")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"kind IN {USER_KINDS}", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(8), default="human")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(back_populates="user")

    # flask-login: the id of the web session this object was loaded for (never stored).
    web_session_id = None

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str | None:
        return self.web_session_id

    @property
    def is_bot(self) -> bool:
        return self.kind == "bot"


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("workspace_id", "user_id"),
        CheckConstraint(f"role IN {ROLES}", name="role"),
        Index("ix_memberships_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(8), default="agent")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    workspace: Mapped[Workspace] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(back_populates="memberships")


class Inbox(Base):
    __tablename__ = "inboxes"
    __table_args__ = (
        UniqueConstraint("workspace_id", "name"),
        CheckConstraint(f"channel IN {CHANNELS}", name="channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    channel: Mapped[str] = mapped_column(String(16), default="api")
    secret_hash: Mapped[str] = mapped_column(String(64))
    secret_last4: Mapped[str] = mapped_column(String(4))
    # API inboxes: where outgoing messages are POSTed (deskwoot/channels/api_webhook.py), and
    # the Standard Webhooks signing secret ("whsec_…"), sealed at rest (see below).
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    webhook_secret: Mapped[str | None] = mapped_column(String(200))
    # Email inboxes (ARCHITECTURE §13): the address customers write to, and the SMTP and
    # IMAP URLs with their credentials. The secrets (webhook_secret, smtp_url, imap_url) are
    # sealed at rest with a key derived from SECRET_KEY (services/access/sealed.py); read
    # them through services/directory/inboxes.py, never from these columns.
    email_address: Mapped[str | None] = mapped_column(String(254))
    smtp_url: Mapped[str | None] = mapped_column(Text)
    imap_url: Mapped[str | None] = mapped_column(Text)
    # IMAP polling state: the mailbox generation and the last UID taken, so nothing is read
    # twice or skipped; a lease so two workers never poll one mailbox at once; and how the
    # last poll went, for Settings.
    imap_uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    imap_last_uid: Mapped[int | None] = mapped_column(BigInteger)
    imap_claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    imap_claimed_by: Mapped[str | None] = mapped_column(String(64))
    imap_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    imap_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    workspace: Mapped[Workspace] = relationship(back_populates="inboxes")
    members: Mapped[list[User]] = relationship(secondary="inbox_members", order_by="User.name")


class InboxMember(Base):
    __tablename__ = "inbox_members"
    __table_args__ = (Index("ix_inbox_members_user", "user_id"),)

    inbox_id: Mapped[int] = mapped_column(
        ForeignKey("inboxes.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class Invitation(Base):
    """A pending invitation to join a workspace, accepted by the person through a one-time link.

    Accounts are shared across workspaces, so an admin never creates or attaches an account:
    the invitee either sets up a new account from the link or, when one exists, accepts while
    logged in as it. A row lives only while the invitation is pending (accepting or revoking
    deletes it; the audit log keeps the history), so one (workspace, email) pair is unique and
    two admins inviting the same address at once cannot both succeed.
    """

    __tablename__ = "invitations"
    __table_args__ = (UniqueConstraint("workspace_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(8))
    inbox_ids: Mapped[list] = mapped_column(JSONType, default=list)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    invited_by_name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
