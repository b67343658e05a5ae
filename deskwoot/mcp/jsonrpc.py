"""JSON-RPC plumbing for /api/mcp: strict parsing and error envelopes (ARCHITECTURE §9)."""

from __future__ import annotations

from typing import Any

import mcp_types as T
from flask import Response

from deskwoot import strict_json, wire_json

MAX_BODY = 1024 * 1024

# Our own codes, in the range JSON-RPC leaves to implementations (-32000..-32099); the SDK
# itself uses -32000/-32001, so ours start at -32010.
UNAUTHORIZED = -32010
PLAN_REQUIRED = -32011
MCP_DISABLED = -32012
INSUFFICIENT_SCOPE = -32013
RATE_LIMITED = -32014
DATABASE_UNAVAILABLE = -32015


class RpcError(Exception):
    """A JSON-RPC error; `http` overrides the status the era would pick."""

    def __init__(
        self,
        code: int,
        message: str,
        data: Any = None,
        http: int | None = None,
        headers: dict | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data
        self.http = http
        self.headers = headers or {}


def json_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(
        wire_json.dumps(body),
        status=status,
        mimetype="application/json",
        headers=headers or {},
    )


def error_response(request_id: Any, error: RpcError, status: int) -> Response:
    """An error envelope; built by hand so that `"id": null` survives (exclude_none drops it)."""
    payload = T.ErrorData(code=error.code, message=error.message, data=error.data).model_dump(
        mode="json", exclude_none=True
    )
    return json_response(
        {"jsonrpc": "2.0", "id": request_id, "error": payload},
        error.http or status,
        error.headers,
    )


def strict_loads(raw: bytes) -> Any:
    """Parse JSON, refusing NaN/Infinity, lone surrogates, NUL and deep nesting (→ -32700)."""
    try:
        return strict_json.loads(raw)
    except strict_json.UnreadableJson as exc:
        raise RpcError(T.PARSE_ERROR, f"Parse error: {exc.reason}.", http=400) from exc
