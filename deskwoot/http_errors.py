"""The JSON error answer of every HTTP endpoint that is not JSON-RPC: the web's machine paths
(/api/…, /hooks/… when routing, CSRF or the database fails) and the inbound hook.

One body, `{"error": {"code", "message", …}}`, and one mapping from a service error to its
HTTP status (`status_for`), so that a second renderer over the same mapping (problem+json for
the REST API) answers alike. /api/mcp answers in JSON-RPC (mcp/jsonrpc.py) instead.
"""

from __future__ import annotations

from flask import Response, jsonify

from deskwoot.errors import (
    Conflict,
    Forbidden,
    Invalid,
    Locked,
    NotFound,
    ServiceError,
    Unauthorized,
)

# Most specific class first; any other ServiceError collides with the current state (409).
STATUS = (
    (Invalid, 400),
    (Unauthorized, 401),
    (Forbidden, 403),
    (Locked, 403),
    (NotFound, 404),
    (Conflict, 409),
)


def status_for(error: ServiceError) -> int:
    """The HTTP status of a service error."""
    return next((status for kind, status in STATUS if isinstance(error, kind)), 409)


def error_body(code: str, message: str, **data) -> dict:
    """`{"error": {"code", "message", …}}`: `code` for machines, `message` for people and
    agents, `data` for the details a client acts on (a field, how long to wait)."""
    return {"error": {"code": code, "message": message, **data}}


def json_error(
    status: int, code: str, message: str, *, headers: dict | None = None, **data
) -> Response:
    """The JSON error response."""
    response = jsonify(error_body(code, message, **data))
    response.status_code = status
    response.headers.update(headers or {})
    return response


def json_service_error(error: ServiceError, *, headers: dict | None = None) -> Response:
    """A service error as a JSON error response; an Invalid names its field (null if none)."""
    data = {"field": error.field} if isinstance(error, Invalid) else {}
    return json_error(status_for(error), error.code, error.message, headers=headers, **data)
