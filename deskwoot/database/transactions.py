"""Units of work: one write transaction at a time, retried when PostgreSQL picks it as a
deadlock victim, with the unique constraints it may lose a race on named (ARCHITECTURE §8)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TypeVar

from flask import current_app
from sqlalchemy.exc import DBAPIError, IntegrityError

from deskwoot.database.engine import write_intent
from deskwoot.database.prebuilt import connection_in_use
from deskwoot.errors import Conflict
from deskwoot.extensions import db

T = TypeVar("T")

# PostgreSQL's answers for "this transaction lost a race, run it again": deadlock_detected and
# serialization_failure. Nothing was applied, so the whole unit of work may simply be retried.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
TRANSIENT_ATTEMPTS = 3


def is_transient(exc: BaseException) -> bool:
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in TRANSIENT_SQLSTATES


def retry_transient(work: Callable[[], T]) -> T:
    """Run `work` (one or more whole transactions) again when the database aborted it as a
    deadlock victim or a serialization failure: a safety net for lock orders no test found.
    Each attempt starts clean: the failed transaction was rolled back by write_transaction."""
    for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
        try:
            return work()
        except DBAPIError as exc:
            if attempt == TRANSIENT_ATTEMPTS or not is_transient(exc):
                raise
            db.session.rollback()
    raise AssertionError("unreachable")


def core(statement, params: dict | None = None):
    """Run a prebuilt statement on the session's own connection and transaction, without the
    ORM's per-statement work (entity loading, bulk-update evaluation): for the agent's hot
    paths, which read and write plain rows (inside prebuilt.read_alone, on its connection).
    Returns the CursorResult."""
    return connection_in_use().execute(statement, params or {})


@dataclass(frozen=True)
class Taken:
    """A unique constraint a write can lose a race on, and the Conflict that says so.

    A service checks "is that name free?" before inserting, which is all SQLite needs (one
    writer at a time, and BEGIN IMMEDIATE makes the check and the insert one step). On
    PostgreSQL two transactions can both pass the check; the unique index then stops the
    second at its INSERT or COMMIT, and that IntegrityError used to escape as a 500. Naming
    the constraint where the service opens its transaction (rather than a try/except around
    each flush, or one global table of constraints) keeps the message next to the check it
    backs up, lets it name the value, and leaves the IntegrityErrors other code handles
    itself (inbound dedupe, idempotency keys) exactly as they were.
    """

    # Named as models/base.py NAMING_CONVENTION does, e.g. uq_labels_workspace_id_name.
    constraint: str
    message: str
    field: str | None = None


def violated_unique(exc: IntegrityError) -> str | None:
    """The name of the unique constraint `exc` reports, or None for any other integrity error."""
    error = exc.orig
    if getattr(error, "sqlstate", None) == "23505":  # PostgreSQL unique_violation
        return getattr(getattr(error, "diag", None), "constraint_name", None)
    # SQLite names the columns, not the constraint: "UNIQUE constraint failed: labels.workspace_id,
    # labels.name"; the naming convention turns them back into uq_labels_workspace_id_name.
    prefix = "UNIQUE constraint failed: "
    message = str(error)
    if not message.startswith(prefix):
        return None
    columns = [part.strip().partition(".") for part in message.removeprefix(prefix).split(",")]
    return f"uq_{columns[0][0]}_" + "_".join(column for _, _, column in columns)


@contextmanager
def _conflicts(taken: Iterable[Taken]) -> Iterator[None]:
    try:
        yield
    except IntegrityError as exc:
        name = violated_unique(exc)
        for rule in taken:
            if rule.constraint == name:
                data = {"field": rule.field} if rule.field else {}
                raise Conflict(rule.message, **data) from exc
        raise


@contextmanager
def write_transaction(taken: Iterable[Taken] = (), *, wait: bool = True) -> Iterator:
    """Run one write unit of work: commit on success, roll back on any error.

    Any read transaction the request already holds is ended first, so the write starts fresh
    with the write lock (SQLite) instead of upgrading a read snapshot. A violation of one of
    the `taken` unique constraints comes out as that rule's Conflict (see Taken).

    wait=False is for bookkeeping that must never hold up real work (counting refused
    requests): on SQLite it raises WriterBusy instead of queueing behind another writer.
    PostgreSQL has no such queue; such callers avoid row locks there themselves.
    """
    session = db.session()  # the request's Session behind the scoped proxy
    if write_intent.get():
        # Nested call inside an ongoing write: join it.
        with _conflicts(taken):
            yield session
        return
    if session.in_transaction():
        session.commit()
    queue = current_app.extensions.get("deskwoot_writer_queue")
    token = write_intent.set(True)
    try:
        with queue.turn(wait) if queue is not None else nullcontext():
            try:
                with _conflicts(taken):
                    yield session
                    session.commit()
            except BaseException:
                session.rollback()
                raise
    finally:
        write_intent.reset(token)
