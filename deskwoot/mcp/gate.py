"""The MCP side of the bearer gate (ARCHITECTURE §3): services/access/bearer.py decides who
gets in; this renders its refusals as the JSON-RPC errors and HTTP statuses /api/mcp answers
with, and checks the token's rate limit for tools/call (calls.py)."""

from __future__ import annotations

from flask import g, request

from deskwoot.errors import Locked, Unauthorized
from deskwoot.mcp.jsonrpc import (
    MCP_DISABLED,
    PLAN_REQUIRED,
    RATE_LIMITED,
    UNAUTHORIZED,
    RpcError,
)
from deskwoot.oauth import urls as oauth_urls
from deskwoot.policy import Actor
from deskwoot.services.access import bearer
from deskwoot.services.access import rate_limit as ratelimit

CHALLENGE = 'Bearer realm="deskwoot", error="invalid_token"'


def challenge() -> str:
    """The 401 challenge, pointing OAuth clients at the resource's metadata (RFC 9728 §5.1)."""
    return f'{CHALLENGE}, resource_metadata="{oauth_urls.resource_metadata()}"'


def scope_challenge(scope: str, description: str) -> str:
    """The 403 step-up challenge (MCP authorization, "Scope Challenge Handling"; RFC 6750
    §3.1): the scope needed, and where the resource's metadata is, so an OAuth client can ask
    the admin for a wider grant. error_description carries our message to clients that surface
    only the challenge (the v2 TypeScript client turns a 403 into InsufficientScopeError)."""
    return (
        f'Bearer realm="deskwoot", error="insufficient_scope", scope="{scope}", '
        f'resource_metadata="{oauth_urls.resource_metadata()}", '
        f'error_description="{description}"'
    )


def admit() -> Actor:
    """Turn the request's token into an Actor, or raise bearer.admit's Unauthorized or Locked
    (the transport audits a Locked, then answers with `rpc_error`).

    The token's rate limit state is left in `g.mcp_rate_tat` for calls.py, which charges
    tools/call only (see services/access/rate_limit.py).
    """
    admitted = bearer.admit(
        request.headers.get("Authorization"),
        "mcp",
        request_id=g.get("request_id"),
        remote_addr=request.remote_addr,
    )
    g.mcp_rate_tat = admitted.rate_tat
    return admitted.actor


def rpc_error(refused: Unauthorized | Locked) -> RpcError:
    """The JSON-RPC error for a bearer refusal."""
    if isinstance(refused, Unauthorized):
        # A bad token learns nothing, not even a reason; a suspended one may learn why.
        suspended = refused.reason != "invalid_token"
        return RpcError(
            UNAUTHORIZED,
            refused.message,
            data={"reason": refused.reason} if suspended else None,
            http=401,
            headers={"WWW-Authenticate": challenge()},
        )
    return RpcError(
        MCP_DISABLED if refused.reason == "mcp_disabled" else PLAN_REQUIRED,
        refused.message,
        data={"reason": refused.reason},
        http=403,
    )


def check_rate(actor: Actor) -> None:
    """Refuse a tools/call the token has no budget for, with how long to wait. Not audited:
    a client hammering past its limit must not be able to turn that into writes."""
    wait = ratelimit.retry_after(g.get("mcp_rate_tat"), ratelimit.configured())
    if wait:
        raise RpcError(
            RATE_LIMITED,
            f"Rate limit reached for this token. Retry after {wait} s.",
            data={"reason": "rate_limited", "retry_after": wait},
            http=429,
            headers={"Retry-After": str(wait)},
        )
