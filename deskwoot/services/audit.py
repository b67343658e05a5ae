"""The audit trail: security-relevant actions, written in the same transaction as the effect."""

from __future__ import annotations

from sqlalchemy import bindparam, insert

from deskwoot.extensions import db
from deskwoot.models import AuditEntry, utcnow
from deskwoot.policy import Actor
from deskwoot.prebuilt import Prebuilt


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
    _INSERT.run(
        {
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
        },
    )


# Every column but the id named, so the statement is the same whatever the values.
_INSERT = Prebuilt(
    insert(AuditEntry.__table__).values(
        {c.key: bindparam(c.key) for c in AuditEntry.__table__.c if c.key != "id"}
    )
)
