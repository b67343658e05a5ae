"""Opaque, signed list cursors bound to the workspace and the query (ARCHITECTURE §4)."""

from __future__ import annotations

import hashlib
import json

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from deskwoot.errors import Invalid

# The events feed's cursor is where the agent's sync stands. When its signature no longer
# verifies but it is otherwise one of ours for this query (the secret key was rotated since
# it was issued), the agent is told to resync, exactly as for a cursor past the retention
# window (tools/events.py), rather than that it sent garbage.
STALE_EVENTS_CURSOR = (
    "This cursor can no longer be verified (the server's secret key has changed since it was "
    "issued), so it cannot say where you left off. Resync: re-read the conversations you "
    "care about, then poll again without a cursor."
)


class InvalidCursor(Exception):
    """A cursor that is not one of ours for this query (tampered, foreign, or from another
    filter set). Each surface words it as a bad argument: a JSON-RPC invalid-params error
    (-32602) on /api/mcp, a 422 problem on /api/v1."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="deskwoot.mcp.cursor")


def query_key(kind: str, filters: dict) -> str:
    canonical = json.dumps({"k": kind, **filters}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode(workspace_id: int, kind: str, filters: dict, position) -> str:
    return _serializer().dumps({"w": workspace_id, "q": query_key(kind, filters), "p": position})


def decode(cursor: str | None, workspace_id: int, kind: str, filters: dict):
    """The position inside a cursor, or None for no cursor; InvalidCursor when tampered or
    foreign."""
    if cursor is None:
        return None
    try:
        data = _serializer().loads(cursor)
    except BadSignature as exc:
        if kind == "events" and _well_formed(cursor, workspace_id, kind, filters):
            raise Invalid(STALE_EVENTS_CURSOR, field="cursor", reason="resync_required") from exc
        raise InvalidCursor(
            "Invalid cursor: pass back a cursor exactly as it was returned, with the same filters."
        ) from exc
    if (
        not isinstance(data, dict)
        or data.get("w") != workspace_id
        or data.get("q") != query_key(kind, filters)
    ):
        raise InvalidCursor(
            "Invalid cursor: it belongs to a different query. "
            "Repeat the same filters, or start again without a cursor."
        )
    return data.get("p")


def _well_formed(cursor: str, workspace_id: int, kind: str, filters: dict) -> bool:
    """Whether an unverified cursor still reads as one issued for this workspace and query:
    its payload has our shape ({w, q, p: [after_id, issued]}) and only the signature fails.
    Anything else stays "invalid"."""
    _, data = _serializer().loads_unsafe(cursor)
    return (
        isinstance(data, dict)
        and set(data) == {"w", "q", "p"}
        and data["w"] == workspace_id
        and data["q"] == query_key(kind, filters)
        and isinstance(data["p"], list)
        and len(data["p"]) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in data["p"])
    )
