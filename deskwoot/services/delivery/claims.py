"""Claiming outbox rows: a lease, so several workers never deliver one row at once.

One statement serves both databases:

    UPDATE outbox SET claimed_by = :me, claimed_until = now + lease
    WHERE id IN (SELECT id FROM outbox WHERE <pending, due, not leased, our channels>
                 ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED)
    RETURNING id

On PostgreSQL, FOR UPDATE SKIP LOCKED makes concurrent claimers pass over each other's rows
instead of queueing on them. SQLite has no row locks (SQLAlchemy leaves the clause out): the
statement runs inside write_transaction, which holds SQLite's single write lock, so the
select and the update are one step no other writer can interleave with. Either way a row is
leased until `claimed_until`; a worker that dies (kill -9) simply lets the lease run out and
the row becomes claimable again — delivery is at least once, with the same delivery id.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select, update

from deskwoot.database.transactions import write_transaction
from deskwoot.models import Outbox, utcnow
from deskwoot.services.delivery import leases


def claim(claimed_by: str, channels: list[str], limit: int, lease: float) -> list[int]:
    """Lease up to `limit` due pending rows of `channels` to `claimed_by`; their ids, oldest
    first. Rows of other channels (no deliverer yet) are never touched."""
    if not channels or limit < 1:
        return []
    now = utcnow()
    due = (
        select(Outbox.id)
        .where(
            Outbox.status == "pending",
            Outbox.channel.in_(channels),
            or_(Outbox.next_attempt_at.is_(None), Outbox.next_attempt_at <= now),
            or_(Outbox.claimed_until.is_(None), Outbox.claimed_until < now),
        )
        .order_by(Outbox.id)
        .limit(limit)
    )
    return leases.lease(
        Outbox,
        due,
        {"claimed_by": claimed_by, "claimed_until": now + timedelta(seconds=lease)},
    )


def release(claimed_by: str, ids: list[int]) -> None:
    """Give back rows this worker claimed but will not deliver (it is stopping)."""
    if not ids:
        return
    with write_transaction() as session:
        session.execute(
            update(Outbox)
            .where(
                Outbox.id.in_(ids),
                Outbox.claimed_by == claimed_by,
                Outbox.status == "pending",
            )
            .values(claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        )
