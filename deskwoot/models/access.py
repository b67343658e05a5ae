"""Credentials and sessions: MCP bot tokens, server-side web sessions, login throttling and
one-time password links."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from deskwoot.models.base import Base, JSONType, UTCDateTime, utcnow


class WebSession(Base):
    """A logged-in browser. The cookie carries a random id; only its SHA-256 is stored."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_user", "user_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))


class LoginThrottle(Base):
    """Failed logins per (email, address) pair, so guessing slows without locking the owner out."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PasswordToken(Base):
    """A one-time link to set a password: a reset (forgot password, `deskwoot user reset-link`)
    or the first password of someone the operator added without one."""

    __tablename__ = "password_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class McpToken(Base):
    """A bot token: `dw_mcp_` for the MCP server or `dw_api_` for the REST API (`kind`). Both
    act as the workspace's bot service account, with the same scopes and rules."""

    __tablename__ = "mcp_tokens"
    __table_args__ = (
        Index("ix_mcp_tokens_ws", "workspace_id", "id"),
        Index("ix_mcp_tokens_ws_kind", "workspace_id", "kind", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8), default="mcp", server_default="mcp")
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    last4: Mapped[str] = mapped_column(String(4))
    scopes: Mapped[list] = mapped_column(JSONType, default=list)
    inbox_ids: Mapped[list] = mapped_column(JSONType, default=list)  # empty = every inbox
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Rate limit state (GCRA theoretical arrival time, epoch seconds);
    # see services/access/rate_limit.py.
    rate_tat: Mapped[float | None] = mapped_column(Float)

    created_by = relationship("User")
