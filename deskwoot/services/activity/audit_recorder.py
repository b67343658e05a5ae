"""The audit trail: security-relevant actions, written in the same transaction as the effect."""

from __future__ import annotations

import threading
from datetime import datetime

from flask import current_app
from sqlalchemy import bindparam, insert, select, update

from deskwoot.database.engine import WriterBusy
from deskwoot.database.prebuilt import Prebuilt
from deskwoot.database.transactions import core, write_transaction
from deskwoot.extensions import db
from deskwoot.models import AuditEntry, utcnow
from deskwoot.policy import Actor

REFUSAL_ACTION = "mcp.request"
# The same count for the REST API's tokens (deskwoot/rest).
REST_REFUSAL_ACTION = "api.request"


def record(
    actor: Actor,
    action: str,
    *,
    target: str | None = None,
    outcome: str = "ok",
    detail: str | None = None,
) -> AuditEntry:
    """Add an audit entry to the current transaction."""
    entry = AuditEntry(
        workspace_id=actor.workspace_id,
        actor_type=actor.sender_type,
        actor_id=actor.user_id,
        actor_name=actor.name,
        token_id=actor.token_id,
        action=action,
        target=target,
        outcome=outcome,
        detail=detail,
        request_id=actor.request_id,
        remote_addr=actor.remote_addr,
        created_at=utcnow(),
        count=1,
    )
    db.session.add(entry)
    return entry


def record_fast(
    actor: Actor,
    action: str,
    *,
    target: str | None = None,
    outcome: str = "ok",
    detail: str | None = None,
) -> None:
    """The same row as `record`, as one Core INSERT (no ORM unit of work): for hot paths
    that write nothing else, such as an agent's read-only tool calls."""
    _INSERT.run(entry_values(actor, action, target=target, outcome=outcome, detail=detail))


def entry_values(
    actor: Actor,
    action: str,
    *,
    target: str | None = None,
    outcome: str = "ok",
    detail: str | None = None,
) -> dict:
    """The column values of `record`'s row (for record_fast and `statement`)."""
    return {
        "workspace_id": actor.workspace_id,
        "actor_type": actor.sender_type,
        "actor_id": actor.user_id,
        "actor_name": actor.name,
        "token_id": actor.token_id,
        "action": action,
        "target": target,
        "outcome": outcome,
        "detail": detail,
        "request_id": actor.request_id,
        "remote_addr": actor.remote_addr,
        "created_at": utcnow(),
        "count": 1,
    }


def statement(actor: Actor, action: str, **columns) -> tuple[Prebuilt, dict]:
    """record_fast's INSERT and its values, for prebuilt.write_alone to run with others."""
    return _INSERT, entry_values(actor, action, **columns)


# --- requests refused at the MCP gate ----------------------------------------------------


def record_refusal(actor: Actor, reason: str, action: str = REFUSAL_ACTION) -> None:
    """Count a known token's request refused by plan, trial or the MCP switch (`action`
    names the surface: REFUSAL_ACTION for /api/mcp, REST_REFUSAL_ACTION for /api/v1).

    A client that keeps retrying a locked workspace must leave evidence, not a flood: the
    refusals are counted on one row per token, reason and minute (`count`). And counting
    must never hold up real work, so it runs in its own transaction that does not wait for
    the write queue: when another writer holds it, the refusal is added to this process's
    tally and written with the token's next refusal that finds the queue free.
    """
    tally = _tally()
    key = (actor.workspace_id, actor.token_id, reason)
    with tally.lock:
        refused = tally.pending.pop(key, 0) + 1
    written = False
    try:
        with write_transaction(wait=False):
            written = _add_refusals(actor, reason, refused, action)
    except WriterBusy:
        pass
    if not written:
        with tally.lock:
            tally.pending[key] = tally.pending.get(key, 0) + refused


class _Tally:
    """Refusals counted in memory while the write queue was busy, by (workspace, token,
    reason); bounded by the number of locked-out tokens."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pending: dict[tuple[int, int | None, str], int] = {}


def _tally() -> _Tally:
    # Per app, so that two apps in one process (tests) never mix their counts.
    return current_app.extensions.setdefault("deskwoot_refusal_tally", _Tally())


def _add_refusals(actor: Actor, reason: str, refused: int, action: str) -> bool:
    """Add `refused` to this minute's refusal row, or start one; False when the row is
    locked by another transaction counting into it (PostgreSQL), so nothing waits."""
    now = utcnow()
    newest = _NEWEST_OF_TOKEN.first(
        {"workspace_id": actor.workspace_id, "token_id": actor.token_id}
    )
    if newest is not None and _same_minute_refusal(newest, reason, now, action):
        counted = core(_COUNT_INTO, {"entry_id": newest.id, "refused": refused})
        return counted.rowcount == 1
    _INSERT.run(
        {
            "workspace_id": actor.workspace_id,
            "actor_type": actor.sender_type,
            "actor_id": actor.user_id,
            "actor_name": actor.name,
            "token_id": actor.token_id,
            "action": action,
            "target": None,
            "outcome": "denied",
            "detail": reason,
            "request_id": actor.request_id,
            "remote_addr": actor.remote_addr,
            "created_at": now,
            "count": refused,
        },
    )
    return True


def _same_minute_refusal(row, reason: str, now: datetime, action: str) -> bool:
    # A locked-out token does nothing but get refused, so its newest row is the one to
    # count into, unless the reason changed or the minute moved on.
    same_refusal = (row.action, row.outcome, row.detail) == (action, "denied", reason)
    return same_refusal and _minute(row.created_at) == _minute(now)


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


# Every column but the id named, so the statement is the same whatever the values.
_INSERT = Prebuilt(
    insert(AuditEntry.__table__).values(
        {c.key: bindparam(c.key) for c in AuditEntry.__table__.c if c.key != "id"}
    )
)

# The token's newest row, on the (workspace, token, id) index: one index step.
_NEWEST_OF_TOKEN = Prebuilt(
    select(
        AuditEntry.id,
        AuditEntry.action,
        AuditEntry.outcome,
        AuditEntry.detail,
        AuditEntry.created_at,
    )
    .where(
        AuditEntry.workspace_id == bindparam("workspace_id"),
        AuditEntry.token_id == bindparam("token_id"),
    )
    .order_by(AuditEntry.id.desc())
    .limit(1)
)
# SKIP LOCKED: on PostgreSQL a refusal never waits for another one counting into the same
# row (SQLite renders no FOR UPDATE; its writers are already one at a time).
_COUNT_INTO = (
    update(AuditEntry)
    .where(
        AuditEntry.id
        == select(AuditEntry.id)
        .where(AuditEntry.id == bindparam("entry_id"))
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    .values(count=AuditEntry.count + bindparam("refused"))
)
