"""Deleting many rows without holding the write lock for long: housekeeping deletes in slices,
each its own short write transaction, so a big backlog never makes a web worker's write wait
out SQLite's busy_timeout (and keeps PostgreSQL's row locks brief)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, func, select

from deskwoot.database.transactions import write_transaction
from deskwoot.extensions import db


def count(model, where: ColumnElement[bool]) -> int:
    """How many rows of `model` match `where` (a dry run's answer)."""
    return db.session.execute(select(func.count()).select_from(model).where(where)).scalar_one()


def delete_in_batches(
    model, where: ColumnElement[bool], batch: int, max_batches: int | None = None
) -> int:
    """Delete the rows of `model` matching `where`, at most `batch` per transaction, and at
    most `max_batches` transactions (None: until none are left); how many were deleted."""
    key = model.__mapper__.primary_key[0]
    total = 0
    done = 0
    while max_batches is None or done < max_batches:
        with write_transaction() as session:
            chosen = select(key).where(where).limit(batch)
            deleted = session.execute(
                delete(model).where(key.in_(chosen)),
                execution_options={"synchronize_session": False},
            ).rowcount
        total += deleted
        done += 1
        if deleted < batch:
            break
    return total
