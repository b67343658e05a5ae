"""OAuth 2.1 for the MCP server (deskwoot/oauth): the clients that ask, the one-time codes an
admin's consent produces, and the access and refresh tokens issued under a grant.

A grant itself is an `mcp_tokens` row of kind "oauth": scopes, inbox restriction, the granting
admin (suspension), revocation, audit attribution and last use all work as for a bot token.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from deskwoot.models.base import Base, JSONType, UTCDateTime, utcnow


class OAuthClient(Base):
    """A client that asked for authorization: registered (RFC 7591) or known by its Client ID
    Metadata Document (`client_id` is then the document's https URL, re-fetched when stale)."""

    __tablename__ = "oauth_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(2000), unique=True)
    # "registered" (RFC 7591) or "document" (a Client ID Metadata Document)
    source: Mapped[str] = mapped_column(String(16))
    client_name: Mapped[str] = mapped_column(String(200))
    client_uri: Mapped[str | None] = mapped_column(String(2000))
    redirect_uris: Mapped[list] = mapped_column(JSONType, default=list)
    grant_types: Mapped[list] = mapped_column(JSONType, default=list)
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(40), default="none")
    client_secret_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # documents only


class OAuthCode(Base):
    """An authorization code: what the admin approved, waiting for the client's exchange."""

    __tablename__ = "oauth_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id", ondelete="CASCADE"))
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    resource: Mapped[str] = mapped_column(Text)
    scopes: Mapped[list] = mapped_column(JSONType, default=list)
    inbox_ids: Mapped[list] = mapped_column(JSONType, default=list)
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The grant its exchange created, so a replayed code can revoke it (RFC 6749 §4.1.2).
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("mcp_tokens.id", ondelete="SET NULL"))

    client = relationship("OAuthClient")


class OAuthToken(Base):
    """One issuance under a grant: an access token and its refresh token, hash-stored. A
    refresh rotates: the row is retired and a new one issued; a retired refresh token coming
    back is a replay, and revokes the whole grant."""

    __tablename__ = "oauth_tokens"
    __table_args__ = (Index("ix_oauth_tokens_grant", "grant_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("mcp_tokens.id", ondelete="CASCADE"))
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id", ondelete="CASCADE"))
    access_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_hash: Mapped[str] = mapped_column(String(64), unique=True)
    resource: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    refresh_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # rotated or revoked

    grant = relationship("McpToken")
    client = relationship("OAuthClient")


class OAuthGrantClient(Base):
    """Which client a grant (an `mcp_tokens` row of kind "oauth") was given to."""

    __tablename__ = "oauth_grant_clients"

    grant_id: Mapped[int] = mapped_column(
        ForeignKey("mcp_tokens.id", ondelete="CASCADE"), primary_key=True
    )
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id", ondelete="CASCADE"))

    client = relationship("OAuthClient")


class OAuthRegistrationLimit(Base):
    """Open registration's throttle (oauth/registration_limits.py): how many clients one
    address (a SHA-256 key, not the address itself) registered in its current hour-long
    window. In the database so every app server counts the same registrations."""

    __tablename__ = "oauth_registration_limits"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    registrations: Mapped[int] = mapped_column(default=0)
