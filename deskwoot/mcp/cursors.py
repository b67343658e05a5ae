"""Opaque, signed list cursors bound to the workspace and the query (DESIGN §5.5)."""

from __future__ import annotations

import hashlib
import json

import mcp.types as T
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from deskwoot.mcp.jsonrpc import RpcError


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="deskwoot.mcp.cursor")


def query_key(kind: str, filters: dict) -> str:
    canonical = json.dumps({"k": kind, **filters}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode(workspace_id: int, kind: str, filters: dict, position) -> str:
    return _serializer().dumps({"w": workspace_id, "q": query_key(kind, filters), "p": position})


def decode(cursor: str | None, workspace_id: int, kind: str, filters: dict):
    """The position inside a cursor, or None for no cursor; -32602 when tampered or foreign."""
    if cursor is None:
        return None
    try:
        data = _serializer().loads(cursor)
    except BadSignature as exc:
        raise RpcError(
            T.INVALID_PARAMS,
            "Invalid cursor: pass back a cursor exactly as it was returned, with the same filters.",
        ) from exc
    if (
        not isinstance(data, dict)
        or data.get("w") != workspace_id
        or data.get("q") != query_key(kind, filters)
    ):
        raise RpcError(
            T.INVALID_PARAMS,
            "Invalid cursor: it belongs to a different query. "
            "Repeat the same filters, or start again without a cursor.",
        )
    return data.get("p")
