"""Leasing rows to one worker: the statement outbox claims and mailbox polls share.

    UPDATE <table> SET <claimed_by = me, claimed_until = now + lease>
    WHERE id IN (<free rows, oldest first, LIMIT n, FOR UPDATE SKIP LOCKED>)
    RETURNING id

On PostgreSQL, FOR UPDATE SKIP LOCKED makes concurrent claimers pass over each other's rows
instead of queueing on them. SQLite has no row locks (SQLAlchemy leaves the clause out): the
statement runs inside write_transaction, which holds SQLite's single write lock, so the select
and the update are one step no other writer can interleave with.
"""

from __future__ import annotations

from sqlalchemy import Select, update

from deskwoot.database.transactions import write_transaction


def lease(model, free: Select, values: dict) -> list[int]:
    """Set `values` (the claim) on the rows of `model` that `free` (a SELECT of their ids)
    finds, locking them as it goes; their ids, sorted."""
    with write_transaction() as session:
        ids = session.execute(
            update(model)
            .where(model.id.in_(free.with_for_update(skip_locked=True).scalar_subquery()))
            .values(**values)
            .returning(model.id)
            .execution_options(synchronize_session=False)
        ).scalars()
        return sorted(ids)
