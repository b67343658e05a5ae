"""Reading the audit trail (Settings > Audit log): newest first, filtered, keyset-paginated.

Every query starts from `policy.audit_entries(actor)`, which is the workspace's trail and
requires an admin; the filters narrow it, never widen it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select

from deskwoot import policy
from deskwoot.errors import Invalid
from deskwoot.extensions import db
from deskwoot.models import AuditEntry
from deskwoot.models.activity import AUDIT_OUTCOMES
from deskwoot.policy import Actor

PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditFilters:
    token_id: int | None = None
    action: str | None = None
    outcome: str | None = None

    @property
    def active(self) -> bool:
        return any((self.token_id, self.action, self.outcome))


@dataclass
class AuditPage:
    entries: list[AuditEntry]
    older: int | None  # pass as `before` for the next (older) page
    newer: int | None  # pass as `after` for the previous (newer) page


def _filtered(actor: Actor, filters: AuditFilters) -> Select:
    query = policy.audit_entries(actor)
    if filters.token_id is not None:
        query = query.where(AuditEntry.token_id == filters.token_id)
    if filters.action:
        query = query.where(AuditEntry.action == filters.action)
    if filters.outcome:
        if filters.outcome not in AUDIT_OUTCOMES:
            raise Invalid(f"Outcome must be one of: {', '.join(AUDIT_OUTCOMES)}.", field="outcome")
        query = query.where(AuditEntry.outcome == filters.outcome)
    return query


def _any(query: Select) -> bool:
    return db.session.execute(query.with_only_columns(AuditEntry.id).limit(1)).first() is not None


def page(
    actor: Actor,
    filters: AuditFilters | None = None,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int = PAGE_SIZE,
) -> AuditPage:
    """One page of entries, newest first: below `before`, or just above `after`, or the newest.

    Keyset paging on the id (the indexes lead with workspace, then the filter, then id), so a
    page costs the same on the thousandth page as on the first.
    """
    base = _filtered(actor, filters or AuditFilters())
    limit = max(1, min(limit, 200))
    if after is not None:
        rows = list(
            db.session.execute(
                base.where(AuditEntry.id > after).order_by(AuditEntry.id.asc()).limit(limit + 1)
            ).scalars()
        )
        newer = rows[limit - 1].id if len(rows) > limit else None
        rows = list(reversed(rows[:limit]))
        edge = rows[-1].id if rows else after + 1  # everything below this is older
        older = edge if _any(base.where(AuditEntry.id < edge)) else None
    else:
        query = base if before is None else base.where(AuditEntry.id < before)
        rows = list(
            db.session.execute(query.order_by(AuditEntry.id.desc()).limit(limit + 1)).scalars()
        )
        older = rows[limit - 1].id if len(rows) > limit else None
        rows = rows[:limit]
        newer = None
        if before is not None:
            edge = rows[0].id if rows else before - 1  # everything above this is newer
            newer = edge if _any(base.where(AuditEntry.id > edge)) else None
    return AuditPage(rows, older, newer)


def actions(actor: Actor) -> list[str]:
    """The distinct actions (tool names and admin actions) in the workspace's trail."""
    query = (
        policy.audit_entries(actor)
        .with_only_columns(AuditEntry.action)
        .distinct()
        .order_by(AuditEntry.action)
    )
    return list(db.session.execute(query).scalars())
