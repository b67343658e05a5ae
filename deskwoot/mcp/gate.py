"""The gate in front of every MCP request (DESIGN §5.4), read from the database every time:
token → plan/trial → MCP enabled. Scope is checked per tool in calls.py."""

from __future__ import annotations

from flask import g, request

from deskwoot import policy
from deskwoot.database.transactions import write_transaction
from deskwoot.mcp.jsonrpc import (
    MCP_DISABLED,
    PLAN_REQUIRED,
    RATE_LIMITED,
    UNAUTHORIZED,
    RpcError,
)
from deskwoot.policy import Actor
from deskwoot.services.access import rate_limit as ratelimit
from deskwoot.services.access import tokens

CHALLENGE = 'Bearer realm="deskwoot", error="invalid_token"'

LOCK_MESSAGES = {
    "plan_required": "The MCP server is an Enterprise feature and this workspace is on another "
    "plan. An operator can upgrade it with `deskwoot plan set WORKSPACE "
    "enterprise`.",
    "trial_expired": "This workspace's 7-day Enterprise trial has ended, so the MCP server is "
    "locked. Upgrade to Enterprise to continue (`deskwoot plan set WORKSPACE "
    "enterprise`).",
    "mcp_disabled": "The MCP server is turned off for this workspace. An admin can enable it "
    "under Settings > MCP Server.",
}


def _unauthorized() -> RpcError:
    # The same answer for missing, malformed, unknown, revoked and expired tokens: nothing
    # about the workspace leaks to someone without a working token.
    return RpcError(
        UNAUTHORIZED,
        "Missing or invalid bearer token. Send 'Authorization: "
        "Bearer dw_mcp_…' with a live token from Settings > MCP Server.",
        http=401,
        headers={"WWW-Authenticate": CHALLENGE},
    )


def bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


class Locked(RpcError):
    """The token is good but the workspace may not use MCP now; carries the actor so the
    refusal can be audited to the token without looking it up again."""

    def __init__(self, actor: Actor, reason: str):
        super().__init__(
            MCP_DISABLED if reason == "mcp_disabled" else PLAN_REQUIRED,
            LOCK_MESSAGES[reason],
            data={"reason": reason},
            http=403,
        )
        self.actor = actor


def _suspended() -> RpcError:
    # The caller proved it holds a real token, so it may learn why the token stopped working.
    return RpcError(
        UNAUTHORIZED,
        "This token is suspended: the admin who minted it is no longer an active admin of the "
        "workspace. An admin can mint a new token under Settings > MCP Server.",
        data={"reason": "token_suspended"},
        http=401,
        headers={"WWW-Authenticate": CHALLENGE},
    )


def admit() -> Actor:
    """Turn the request's token into an Actor, or raise the gate's RpcError.

    The token's rate limit state is left in `g.mcp_rate_tat` for calls.py, which charges
    tools/call only (see services/access/rate_limit.py).
    """
    token = tokens.lookup(bearer())
    if token is None:
        raise _unauthorized()
    if token.suspended:
        raise _suspended()
    g.mcp_rate_tat = token.rate_tat
    workspace = token.workspace
    reason = policy.mcp_lock_reason(workspace)
    if reason is None and (not workspace.mcp_enabled or workspace.bot_user_id is None):
        reason = "mcp_disabled"
    actor = policy.token_actor(
        token, workspace, request_id=g.get("request_id"), remote_addr=request.remote_addr
    )
    if reason is not None:
        raise Locked(actor, reason)
    if tokens.needs_touch(token):
        with write_transaction():
            tokens.touch(token)
    return actor


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
