"""Grants: what an admin approved on the consent page, and the tokens issued under it.

A grant is an `mcp_tokens` row of kind "oauth" (named after the client), so scopes, the inbox
restriction, suspension with the granting admin, revocation, audit attribution and last use
are the bot token's rules, unchanged. Access tokens (`dw_oat_`, an hour) and refresh tokens
(`dw_ort_`, rotated on every use) are stored as SHA-256 digests in `oauth_tokens`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from deskwoot import policy
from deskwoot.database.transactions import write_transaction
from deskwoot.errors import Invalid
from deskwoot.extensions import db
from deskwoot.models import (
    McpToken,
    OAuthClient,
    OAuthCode,
    OAuthGrantClient,
    OAuthToken,
    User,
    Workspace,
    utcnow,
)
from deskwoot.oauth import urls
from deskwoot.policy import SCOPES, Actor
from deskwoot.services.access import tokens
from deskwoot.services.access.random_secrets import digest
from deskwoot.services.activity import audit_recorder as audit

KIND = "oauth"
ACCESS_PREFIX = "dw_oat_"
REFRESH_PREFIX = "dw_ort_"
CODE_TTL = timedelta(minutes=5)
DEFAULTS = {"OAUTH_ACCESS_TOKEN_TTL": 3600, "OAUTH_REFRESH_TOKEN_TTL": 30 * 24 * 3600}


def _ttl(name: str) -> int:
    return int(current_app.config.get(name, DEFAULTS[name]))


def access_ttl() -> int:
    return _ttl("OAUTH_ACCESS_TOKEN_TTL")


def new_token(prefix: str) -> str:
    """A token in the bot tokens' shape (prefix, 32 base62, CRC32 check), its own prefix."""
    random_part = "".join(secrets.choice(tokens.ALPHABET) for _ in range(tokens.RANDOM_LEN))
    return prefix + random_part + tokens._checksum(random_part)


def is_access_token(plaintext: str | None) -> bool:
    """Whether a bearer value claims to be an OAuth access token (the gate's one branch)."""
    return isinstance(plaintext, str) and plaintext.startswith(ACCESS_PREFIX)


def _well_formed(plaintext: str, prefix: str) -> bool:
    if not plaintext.startswith(prefix) or len(plaintext) != tokens.TOKEN_LEN:
        return False
    body = plaintext[len(prefix) :]
    if any(ch not in tokens.ALPHABET for ch in body):
        return False
    random_part, check = body[: tokens.RANDOM_LEN], body[tokens.RANDOM_LEN :]
    return secrets.compare_digest(tokens._checksum(random_part), check)


# --- consent ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Approval:
    grant: McpToken
    code: str  # the authorization code, handed to the client once through its redirect


def approve(
    actor: Actor,
    client: OAuthClient,
    *,
    redirect_uri: str,
    resource: str,
    scopes: list[str],
    inbox_ids: list[int],
    code_challenge: str,
    code_challenge_method: str,
) -> Approval:
    """An admin approves a client: mint the grant (as tokens.mint would a bot token, with the
    same plan rule) and a one-time code for it."""
    policy.require_admin(actor)
    workspace = db.session.get(Workspace, actor.workspace_id)
    policy.require_feature(workspace, "mcp")
    scopes = sorted(set(scopes or []))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise Invalid(f"Unknown scope(s): {', '.join(unknown)}.", field="scopes")
    if not scopes:
        raise Invalid("Choose at least one scope.", field="scopes")
    code = secrets.token_urlsafe(32)
    with write_transaction() as session:
        inbox_ids = sorted({policy.get_inbox(actor, i).id for i in inbox_ids or []})
        placeholder = new_token(ACCESS_PREFIX)  # the grant itself is never a bearer value
        grant = McpToken(
            workspace_id=actor.workspace_id,
            kind=KIND,
            name=client.client_name[:120],
            token_hash=digest("grant:" + placeholder),
            prefix=ACCESS_PREFIX,
            last4="····",
            scopes=scopes,
            inbox_ids=inbox_ids,
            created_by_id=actor.user_id,
            created_at=utcnow(),
        )
        session.add(grant)
        session.flush()
        session.add(OAuthGrantClient(grant_id=grant.id, client_pk=client.id))
        session.add(
            OAuthCode(
                code_hash=digest(code),
                client_pk=client.id,
                workspace_id=actor.workspace_id,
                user_id=actor.user_id,
                redirect_uri=redirect_uri,
                resource=resource,
                scopes=scopes,
                inbox_ids=inbox_ids,
                code_challenge=code_challenge,
                code_challenge_method=code_challenge_method,
                expires_at=utcnow() + CODE_TTL,
                grant_id=grant.id,
            )
        )
        audit.record(
            actor,
            "oauth.grant_approved",
            target=f"{grant.name} ({client.client_id})",
            detail="scopes=" + ",".join(scopes),
        )
    return Approval(grant, code)


# --- the token endpoint ----------------------------------------------------------------------


def find_code(code: str, client_pk: int) -> OAuthCode | None:
    """The live code for this client, or None. A code seen twice is a leak: the grant its
    first exchange created is revoked (RFC 6749 §4.1.2)."""
    row = db.session.execute(
        select(OAuthCode).where(OAuthCode.code_hash == digest(code or ""))
    ).scalar_one_or_none()
    if row is None or row.client_pk != client_pk:
        return None
    if row.used_at is not None:
        revoke_grant(row.grant_id, "authorization code replayed")
        return None
    if row.expires_at <= utcnow():
        return None
    return row


def grant_is_live(grant_id: int | None) -> bool:
    grant = db.session.get(McpToken, grant_id) if grant_id else None
    return grant is not None and grant.kind == KIND and tokens.status(grant) == "active"


def store_tokens(grant_id: int, client_pk: int, resource: str, token: dict) -> None:
    """Record an issuance (inside the token endpoint's write transaction)."""
    now = utcnow()
    db.session.add(
        OAuthToken(
            grant_id=grant_id,
            client_pk=client_pk,
            access_hash=digest(token["access_token"]),
            refresh_hash=digest(token["refresh_token"]),
            resource=resource,
            issued_at=now,
            access_expires_at=now + timedelta(seconds=int(token["expires_in"])),
            refresh_expires_at=now + timedelta(seconds=_ttl("OAUTH_REFRESH_TOKEN_TTL")),
        )
    )


def find_refresh(refresh_token: str) -> OAuthToken | None:
    """The issuance a refresh token belongs to, if it may be used. A retired one coming back
    means two parties hold it: the whole grant is revoked (OAuth 2.1 §4.3.1)."""
    if not _well_formed(refresh_token or "", REFRESH_PREFIX):
        return None
    row = db.session.execute(
        select(OAuthToken).where(OAuthToken.refresh_hash == digest(refresh_token))
    ).scalar_one_or_none()
    if row is None:
        return None
    if row.retired_at is not None:
        revoke_grant(row.grant_id, "refresh token replayed")
        return None
    if row.refresh_expires_at <= utcnow() or not grant_is_live(row.grant_id):
        return None
    return row


def retire(row: OAuthToken) -> None:
    row.retired_at = utcnow()


def revoke_grant(grant_id: int | None, why: str) -> None:
    """Revoke a grant on the server's own initiative (a replay), audited as the grant."""
    if grant_id is None:
        return
    with write_transaction():
        grant = db.session.get(McpToken, grant_id)
        if grant is None or grant.revoked_at is not None:
            return
        grant.revoked_at = utcnow()
        db.session.execute(
            update(OAuthToken)
            .where(OAuthToken.grant_id == grant_id, OAuthToken.retired_at.is_(None))
            .values(retired_at=utcnow())
        )
        workspace = db.session.get(Workspace, grant.workspace_id)
        audit.record(
            policy.token_actor(grant, workspace),
            "oauth.grant_revoked",
            target=grant.name,
            detail=why,
        )


def supersede_older_grants(code: OAuthCode) -> None:
    """When a code is exchanged, revoke the live grants the same admin approved earlier for
    the same client in the same workspace. A client asking again (a step-up for a scope it
    lacked, or a reconnect) drops the tokens of its old grant; left live, the old grant would
    sit in Settings beside the new one, unused but valid. Grants other admins approved for the
    same client (one app, several people's connections) are theirs and stay."""
    older = db.session.execute(
        select(McpToken)
        .join(OAuthGrantClient, OAuthGrantClient.grant_id == McpToken.id)
        .where(
            OAuthGrantClient.client_pk == code.client_pk,
            McpToken.workspace_id == code.workspace_id,
            McpToken.created_by_id == code.user_id,
            McpToken.kind == KIND,
            McpToken.id != code.grant_id,
            McpToken.revoked_at.is_(None),
        )
    ).scalars()
    for grant in older:
        revoke_grant(grant.id, "replaced by a newer approval for the same app")


def find_for_revocation(token: str) -> OAuthToken | None:
    """The issuance an access or refresh token belongs to (RFC 7009), if any."""
    column = OAuthToken.access_hash if is_access_token(token) else OAuthToken.refresh_hash
    return db.session.execute(
        select(OAuthToken).where(column == digest(token or ""))
    ).scalar_one_or_none()


# --- the gate --------------------------------------------------------------------------------


def lookup(plaintext: str) -> tokens.LiveToken | None:
    """The grant behind a live access token, as the gate sees a bot token, or None (unknown,
    expired, retired, for another resource, or its grant revoked)."""
    if not _well_formed(plaintext, ACCESS_PREFIX):
        return None
    row = db.session.execute(
        select(OAuthToken.grant_id, OAuthToken.resource, OAuthToken.access_expires_at).where(
            OAuthToken.access_hash == digest(plaintext), OAuthToken.retired_at.is_(None)
        )
    ).first()
    if row is None or row.access_expires_at <= utcnow():
        return None
    if row.resource != urls.resource():  # RFC 8707: a token for another resource is refused
        return None
    grant = db.session.execute(
        select(McpToken)
        .where(McpToken.id == row.grant_id, McpToken.kind == KIND)
        .options(selectinload(McpToken.created_by).selectinload(User.memberships))
    ).scalar_one_or_none()
    if grant is None or grant.revoked_at is not None:
        return None
    workspace = db.session.get(Workspace, grant.workspace_id)
    return tokens.LiveToken(
        grant.id,
        "mcp",  # the surface it opens; the row's kind ("oauth") says where it came from
        grant.name,
        grant.scopes,
        grant.inbox_ids,
        grant.last_used_at,
        grant.rate_tat,
        not tokens.creator_is_admin(grant),
        SimpleNamespace(
            id=workspace.id,
            slug=workspace.slug,
            plan=workspace.plan,
            trial_ends_at=workspace.trial_ends_at,
            mcp_enabled=workspace.mcp_enabled,
            bot_user_id=workspace.bot_user_id,
        ),
    )


tokens.MCP_LOOKUPS[ACCESS_PREFIX] = lookup  # the gate's one branch for OAuth access tokens


# --- Settings > MCP Server -------------------------------------------------------------------


@dataclass(frozen=True)
class GrantView:
    grant: McpToken
    client: OAuthClient | None


def list_grants(actor: Actor) -> list[GrantView]:
    """The workspace's OAuth grants with their clients, live first, newest first."""
    grants = tokens.list_tokens(actor, KIND)
    links = {
        link.grant_id: link.client
        for link in db.session.execute(
            select(OAuthGrantClient)
            .where(OAuthGrantClient.grant_id.in_([g.id for g in grants]))
            .options(selectinload(OAuthGrantClient.client))
        ).scalars()
    }
    return [GrantView(g, links.get(g.id)) for g in grants]
