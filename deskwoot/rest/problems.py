"""RFC 9457 problem details for /api/v1: every error the REST API answers with.

Each problem has a stable `code` (the same words MCP business errors use: not_found,
invalid_arguments, conflict, handoff…), a `type` that resolves to its entry in the served
reference (/api/v1/docs#problem-<code>), a title and a status. CATALOGUE is the list the
reference page and the OpenAPI document show, so a new code cannot go undocumented.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask import Response

from deskwoot.errors import Forbidden, Invalid, NotFound, ServiceError
from deskwoot.rest.routes import PREFIX

MEDIA_TYPE = "application/problem+json"
DOCS = f"{PREFIX}/docs"


@dataclass(frozen=True)
class Kind:
    status: int
    title: str
    description: str


CATALOGUE: dict[str, Kind] = {
    "malformed_json": Kind(
        400,
        "Malformed JSON",
        "The body is not JSON we accept: invalid JSON, NaN or Infinity, NUL characters, lone "
        "surrogates, or nesting deeper than 32 levels.",
    ),
    "idempotency_key_required": Kind(
        400,
        "Idempotency-Key required",
        "Replies and new conversations reach a customer: send an Idempotency-Key header (a "
        "UUID per intended action) and resend it unchanged when you retry.",
    ),
    "unauthorized": Kind(
        401,
        "Invalid token",
        "Missing, malformed, unknown, revoked or expired bearer token (one answer for all). "
        "Send `Authorization: Bearer dw_api_…` with a live token from Settings > API tokens.",
    ),
    "token_suspended": Kind(
        401,
        "Token suspended",
        "The admin who minted the token is no longer an active admin; mint a new one.",
    ),
    "plan_required": Kind(
        403,
        "Enterprise plan required",
        "The REST API is an Enterprise feature; the workspace is on another plan.",
    ),
    "trial_expired": Kind(
        403, "Trial expired", "The workspace's Enterprise trial has ended; it needs Enterprise."
    ),
    "insufficient_scope": Kind(
        403,
        "Insufficient scope",
        "The token lacks the scope this operation needs (`required_scope` names it).",
    ),
    "forbidden": Kind(403, "Forbidden", "The token may see the object but not do this to it."),
    "not_found": Kind(
        404,
        "Not found",
        "No such object within the token's reach (another workspace's, or in an inbox the "
        "token may not use, is the same answer), or no such path.",
    ),
    "method_not_allowed": Kind(
        405, "Method not allowed", "The path exists but not with this method; see `Allow`."
    ),
    "conflict": Kind(
        409,
        "Conflict",
        "The action collides with the current state (a duplicate email, a concurrent change). "
        "Re-read and retry.",
    ),
    "handoff": Kind(
        409,
        "A human took over",
        "A teammate has taken the conversation over: replies are refused until it is handed "
        "back. Add a private note or a draft instead.",
    ),
    "payload_too_large": Kind(413, "Payload too large", "The body is larger than 1 MiB."),
    "unsupported_media_type": Kind(
        415, "Unsupported media type", "Send the body as `Content-Type: application/json`."
    ),
    "invalid_arguments": Kind(
        422,
        "Invalid arguments",
        "A path, query or body value breaks the operation's schema, or names a parameter the "
        "operation does not take. `errors` says which, and where.",
    ),
    "invalid": Kind(
        422, "Invalid value", "A value the help desk cannot accept; `field` names it if it can."
    ),
    "invalid_cursor": Kind(
        422,
        "Invalid cursor",
        "Pass a cursor back exactly as it was returned, with the same filters.",
    ),
    "resync_required": Kind(
        422,
        "Resync required",
        "The events cursor is older than the retention window or can no longer be verified: "
        "re-read what you care about, then poll again without a cursor.",
    ),
    "idempotency_mismatch": Kind(
        422,
        "Idempotency-Key reused",
        "This Idempotency-Key was used with a different request. Use a new key for a new "
        "action, or resend the original request to get the original response.",
    ),
    "idempotency_key_unsupported": Kind(
        422,
        "Idempotency-Key not taken here",
        "Only the creating operations that document the header accept an Idempotency-Key.",
    ),
    "rate_limited": Kind(
        429, "Rate limited", "The token's rate limit is spent; wait `Retry-After` seconds."
    ),
    "internal": Kind(
        500,
        "Internal error",
        "A bug on our side. Nothing was applied; retry, and report it if it keeps happening.",
    ),
    "database_unavailable": Kind(
        503,
        "Database unavailable",
        "The database is read-only, full or unreachable; retry after `Retry-After` seconds.",
    ),
}


def type_uri(code: str) -> str:
    return f"{DOCS}#problem-{code}"


class Problem(Exception):
    """A problem to answer with; raise it anywhere below the REST views."""

    def __init__(self, code: str, detail: str, *, headers: dict | None = None, **extra):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    @property
    def status(self) -> int:
        return CATALOGUE[self.code].status

    def body(self) -> dict:
        kind = CATALOGUE[self.code]
        return {
            "type": type_uri(self.code),
            "title": kind.title,
            "status": kind.status,
            "detail": self.detail,
            "code": self.code,
            **self.extra,
        }

    def response(self) -> Response:
        return Response(
            json.dumps(self.body(), ensure_ascii=False, separators=(",", ":")),
            status=self.status,
            mimetype=MEDIA_TYPE,
            headers=self.headers,
        )


def from_service_error(error: ServiceError) -> Problem:
    """The problem for a service's refusal: its reason when we document one (handoff,
    idempotency_mismatch, resync_required…), else its class's code."""
    reason = error.data.get("reason")
    if isinstance(reason, str) and reason in CATALOGUE:
        code = reason
    elif isinstance(error, NotFound):
        code = "not_found"
    elif isinstance(error, Invalid):
        code = "invalid"
    elif isinstance(error, Forbidden):
        code = "forbidden"
    else:
        code = "conflict"
    extra = {
        k: v for k, v in error.data.items() if k != "reason" and isinstance(v, str | int | bool)
    }
    if isinstance(error, Invalid) or getattr(error, "field", None) is not None:
        extra["field"] = getattr(error, "field", None) or error.data.get("field")
    return Problem(code, error.message, **extra)


def routing(status: int, allowed: list[str] | None = None) -> Response:
    """The answer when no operation matched: no such path (404) or not with this method (405,
    with `Allow`). Routing fails before a blueprint is chosen, so the app's 404/405 handlers
    call this for paths under /api/v1."""
    if status == 405:
        allow = ", ".join(sorted(m for m in allowed or () if m != "OPTIONS"))
        return Problem(
            "method_not_allowed",
            f"This path does not take this method. Allowed: {allow}.",
            headers={"Allow": allow},
        ).response()
    return Problem("not_found", f"No such path. The operations are listed at {DOCS}.").response()
