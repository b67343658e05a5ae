"""The bearer-token check in front of every machine surface (ARCHITECTURE §3): the MCP server
today, the REST API next. One check, so the surfaces cannot drift apart on who gets in.

In order, each read from the database on every request (no per-worker cache, so a revocation,
downgrade or switch applies to the next call on every worker): the token, whether its minter
still stands behind it, the workspace's plan for the feature, the feature's switch. A refusal
is a service error (Unauthorized, Locked) that each surface renders in its own medium: the MCP
transport as a JSON-RPC error (mcp/gate.py), the REST API as problem+json.
"""

from __future__ import annotations

from dataclasses import dataclass

from deskwoot import policy
from deskwoot.database.transactions import write_transaction
from deskwoot.errors import Locked, Unauthorized
from deskwoot.policy import Actor
from deskwoot.services.access import tokens

# Which kind of token each surface takes, and where an admin mints one.
KIND_OF_FEATURE = {"mcp": "mcp", "rest_api": "api"}
MINTED_UNDER = {"mcp": "Settings > MCP Server", "rest_api": "Settings > API tokens"}


def not_admitted(feature: str) -> str:
    prefix = tokens.PREFIXES[KIND_OF_FEATURE[feature]]
    return (
        f"Missing or invalid bearer token. Send 'Authorization: Bearer {prefix}…' with a live "
        f"token from {MINTED_UNDER[feature]}."
    )


def suspended_message(feature: str) -> str:
    return (
        "This token is suspended: the admin who minted it is no longer an active admin of the "
        f"workspace. An admin can mint a new token under {MINTED_UNDER[feature]}."
    )


NOT_ADMITTED = not_admitted("mcp")
SUSPENDED_MESSAGE = suspended_message("mcp")


@dataclass(frozen=True)
class Admitted:
    actor: Actor
    rate_tat: float | None  # the token's rate-limit state (services/access/rate_limit.py)


def token_from_header(authorization: str | None) -> str | None:
    """The token in an Authorization header value (`Bearer <token>`), or None. Only this
    header: a token in a URL would end up in logs and browser history."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def admit(
    authorization: str | None,
    feature: str,
    *,
    request_id: str | None = None,
    remote_addr: str | None = None,
) -> Admitted:
    """Turn an Authorization header value into the token's Actor for `feature` (one of
    policy.ENTERPRISE_FEATURES), or raise Unauthorized or Locked.

    Locked carries the token's actor: the surface audits the refusal under its own action
    (the MCP transport counts them, see audit_recorder.record_refusal); an Unauthorized has no
    workspace to record it in.
    """
    token = tokens.lookup(token_from_header(authorization), KIND_OF_FEATURE[feature])
    if token is None:
        raise Unauthorized(not_admitted(feature))
    if token.suspended:
        # The caller proved it holds a real token, so it may learn why it stopped working.
        raise Unauthorized(suspended_message(feature), reason="token_suspended")
    workspace = token.workspace
    actor = policy.token_actor(token, workspace, request_id=request_id, remote_addr=remote_addr)
    reason = policy.feature_lock_reason(workspace, feature) or policy.switch_lock_reason(
        workspace, feature
    )
    if reason is not None:
        raise Locked(policy.lock_message(reason, workspace, feature), reason, actor)
    if tokens.needs_touch(token):
        with write_transaction():
            tokens.touch(token)
    return Admitted(actor, token.rate_tat)
