"""Prebuilt statements: a Core statement compiled once per dialect and run on the DBAPI cursor.

The agent's hot paths (the gate's token read, the audit row, the rate-limit spend, a
conversation and its messages) run a handful of fixed statements per request. Through
SQLAlchemy's execution path each one costs far more Python than SQL: the compiled-cache key,
an execution context, parameter processing and a CursorResult, about 0.1 ms a statement
against some 20 µs for SQLite to run it. A Prebuilt keeps what SQLAlchemy computes anyway
(the SQL text for the dialect, expanded by SQLAlchemy itself for each length of its IN lists,
the order of the parameters and each type's bind and result processors) and replays it on
the session's own connection and transaction, so nothing changes about what runs or when:
the same SQL, the same values, the same transaction. It reads only documented compiler
API (Compiled.binds, positiontup, construct_expanded_state, literal_execute_params, the
types' bind_processor/result_processor).

It steps aside (runs the ordinary SQLAlchemy path) whenever that path is observable: while
anything listens for cursor execution (tests and the profiler count statements that way),
and for what it does not handle (an empty expanding IN list, literal-execute parameters).

The whole surface is the Prebuilt class (rows, first, run, first_alone): to drop the layer,
make those four run `self.statement` through the session's connection.

Two blocks take the agent's calls off the ORM session, whose begin and rollback cost more
than the statements they wrap: read_alone (a read-only tool's reads on a connection of its
own, one snapshot) and write_alone (its audit row and rate-limit spend, one short write).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from contextvars import ContextVar
from typing import Any

from flask import current_app
from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError, InvalidRequestError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ClauseElement

from deskwoot.database.availability import driver_error_is_unavailable
from deskwoot.database.engine import write_intent
from deskwoot.extensions import db

# Expanded SQL kept per plan: one per count of items in its IN lists (see _Plan.arguments).
_TEMPLATES_PER_PLAN = 256


class _Template:
    """A plan's SQL for one count of items per expanding IN list, as SQLAlchemy expands it
    (SQLCompiler.construct_expanded_state), and where each DBAPI parameter's value comes
    from: (slot, bind name, item index or None, bind processor)."""

    __slots__ = ("slots", "sql")

    def __init__(self, sql: str, slots: tuple):
        self.sql = sql
        self.slots = slots


class _Plan:
    """One statement compiled for one dialect."""

    def __init__(self, statement: ClauseElement, dialect: Dialect):
        compiled = self.compiled = statement.compile(dialect=dialect)
        self.positional = compiled.positional
        binds = compiled.binds
        self.expanding = tuple(name for name, bind in binds.items() if bind.expanding)
        # Python-side column defaults (default=, onupdate=) are computed per execution by
        # SQLAlchemy; so are literal-execute values, rendered into the SQL text. A statement
        # needing either takes SQLAlchemy's own path; so does a bind whose value is a
        # callable (evaluated per execution).
        self.usable = (
            not (compiled.insert_prefetch or compiled.update_prefetch)
            and not compiled.literal_execute_params
            and not any(bind.callable is not None for bind in binds.values())
        )
        self.keys = {name: bind.key for name, bind in binds.items()}
        self.defaults = {name: bind.value for name, bind in binds.items() if not bind.required}
        self.templates: dict[tuple[int, ...], _Template] = {}
        self.bind_processors = {}
        for name, bind in binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.bind_processors[name] = processor
        # What the statement returns: a SELECT's columns, or an INSERT/UPDATE's RETURNING
        # clause (empty without one).
        columns = statement.exported_columns
        if not columns:
            self.row = None
            return
        try:
            self.row = namedtuple("Row", list(columns.keys()))
        except ValueError:  # a key that can't be an attribute name: leave it to SQLAlchemy
            self.row, self.usable = None, False
        self.types = [c.type.dialect_impl(dialect) for c in columns]
        self.dialect = dialect
        # Some result processors depend on the driver's type code (PostgreSQL numerics),
        # which only the first cursor's description tells: see rows().
        self.result_processors: list | None = None

    def _template(self, params: dict, counts: tuple[int, ...]) -> _Template | None:
        """The SQL and parameter slots for these list lengths, from SQLAlchemy's documented
        expansion (construct_expanded_state). Expanding it on every execution costs 10-50 µs
        (a regex over the SQL, every parameter rebuilt), as much as SQLite takes to run the
        statement; the expansion depends only on the lists' lengths, so it is kept per
        length. None when a parameter cannot be traced back to its bind: SQLAlchemy's path."""
        state = self.compiled.construct_expanded_state(params)
        origin = {name: (name, None) for name in self.keys}
        for name, slots in state.parameter_expansion.items():
            origin.update((slot, (name, i)) for i, slot in enumerate(slots))
        order = state.positiontup if self.positional else tuple(state.parameters)
        if any(slot not in origin for slot in order):
            return None
        # An expanded item's processor is in the state; the others are their type's own.
        processors = {**self.bind_processors, **state.processors}
        slots = tuple((slot, *origin[slot], processors.get(slot)) for slot in order)
        if len(self.templates) >= _TEMPLATES_PER_PLAN:
            self.templates.clear()
        template = self.templates[counts] = _Template(state.statement, slots)
        return template

    def arguments(self, params: dict) -> tuple[str, Any] | None:
        """The SQL and the DBAPI parameters for one execution (None: use SQLAlchemy's path)."""
        counts = tuple(len(params[self.keys[name]]) for name in self.expanding)
        template = self.templates.get(counts) or self._template(params, counts)
        if template is None:
            return None
        values = []
        for _slot, name, index, processor in template.slots:
            key = self.keys[name]
            if index is not None:
                value = params[key][index]
            elif key in params:
                value = params[key]
            elif name in self.defaults:
                value = self.defaults[name]
            else:  # as SQLAlchemy's own path would say
                raise InvalidRequestError(f"A value is required for bind parameter {key!r}")
            values.append(processor(value) if processor is not None else value)
        if self.positional:
            return template.sql, values
        return template.sql, {
            slot[0]: value for slot, value in zip(template.slots, values, strict=True)
        }

    def rows(self, cursor) -> list:
        fetched = cursor.fetchall()
        if self.result_processors is None:
            self.result_processors = [
                (i, processor)
                for i, (type_, described) in enumerate(
                    zip(self.types, cursor.description, strict=True)
                )
                if (processor := type_.result_processor(self.dialect, described[1])) is not None
            ]
        if self.result_processors:
            out = []
            for raw in fetched:
                values = list(raw)
                for i, processor in self.result_processors:
                    values[i] = processor(values[i])
                out.append(self.row._make(values))
            return out
        return [self.row._make(raw) for raw in fetched]


class Prebuilt:
    """A statement that is built once at import and run many times (see the module doc)."""

    def __init__(self, statement: ClauseElement):
        self.statement = statement
        self._plans: dict[str, _Plan] = {}

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is None:
            plan = self._plans[dialect.name] = _Plan(self.statement, dialect)
        return plan

    def _fast(self, engine, plan: _Plan, params: dict) -> tuple[str, Any] | None:
        """The SQL and DBAPI parameters to run on the cursor, or None for SQLAlchemy's path."""
        if not plan.usable or engine.dispatch.before_cursor_execute:
            return None
        if not all(params.get(plan.keys[name]) for name in plan.expanding):
            return None
        return plan.arguments(params)

    def rows(self, params: dict | None = None) -> list:
        """All rows (attribute access by column key), on the session's transaction."""
        return self._execute(params or {}, fetch=True)

    def first(self, params: dict | None = None):
        found = self.rows(params)
        return found[0] if found else None

    def run(self, params: dict | None = None) -> None:
        """Execute a statement that returns no rows (INSERT, UPDATE without RETURNING; for
        one with RETURNING use rows or first)."""
        self._execute(params or {}, fetch=False)

    def first_alone(self, params: dict | None = None):
        """The first row, read on a pooled DBAPI connection of its own, outside the session's
        transaction: for a lone read that should not open the request's transaction (the
        gate's token check, which is all a tools/list needs from the database)."""
        params = params or {}
        engine = db.engine
        plan = self._plan(engine.dialect)
        arguments = self._fast(engine, plan, params)
        if arguments is None:
            with engine.connect() as connection:
                found = list(connection.execute(self.statement, params))
        else:
            pooled = engine.raw_connection()
            try:
                found = _on_cursor(pooled, engine.dialect, plan, arguments, True, pooled.invalidate)
            finally:
                pooled.close()  # back to the pool, which ends any transaction the read began
        return found[0] if found else None

    def _execute(self, params: dict, fetch: bool):
        connection = connection_in_use()
        plan = self._plan(connection.dialect)
        arguments = self._fast(connection.engine, plan, params)
        if arguments is None:
            result = connection.execute(self.statement, params)
            return list(result) if fetch else None
        return _on_cursor(
            connection.connection, connection.dialect, plan, arguments, fetch, connection.invalidate
        )


def _on_cursor(pooled, dialect: Dialect, plan: _Plan, arguments, fetch: bool, invalidate):
    """Run a plan on a pooled DBAPI connection; driver errors come out as SQLAlchemy's
    (see _driver_errors)."""
    sql, arguments = arguments
    cursor = pooled.cursor()
    try:
        with _driver_errors(pooled, dialect, sql, arguments, invalidate, cursor):
            cursor.execute(sql, arguments)
            return plan.rows(cursor) if fetch else None
    finally:
        # An invalidated SQLite connection is closed already, and its cursor with it.
        with suppress(dialect.loaded_dbapi.Error):
            cursor.close()


@contextmanager
def _driver_errors(pooled, dialect: Dialect, sql: str, arguments, invalidate, cursor=None):
    """Driver errors as SQLAlchemy's (IntegrityError, OperationalError…, with .orig), so
    callers' handling (conflicts, transient retries, a 503 for an unavailable database) is
    the same on both paths; a lost connection, or one that found the database read-only,
    full or failing (as the engine's handle_error hook decides on the other path), is
    invalidated so the pool never hands it out again."""
    try:
        yield
    except dialect.loaded_dbapi.Error as error:
        lost = dialect.is_disconnect(error, pooled.dbapi_connection, cursor)
        lost = lost or driver_error_is_unavailable(error)
        if lost:
            invalidate(error)
        raise DBAPIError.instance(
            sql,
            arguments,
            error,
            dialect.loaded_dbapi.Error,
            connection_invalidated=lost,
            dialect=dialect,
        ) from error


_BEGIN = "BEGIN IMMEDIATE"

# The connection of a read_alone block, while one runs in this context.
_reading_alone: ContextVar[Connection | None] = ContextVar("reading_alone", default=None)


def connection_in_use() -> Connection:
    """The connection statements run on: a read_alone block's, else the session's."""
    return _reading_alone.get() or db.session.connection()


class SessionUsedWhileReadingAlone(RuntimeError):
    """Something used the ORM session inside read_alone (see there)."""


@contextmanager
def read_alone() -> Iterator[Connection]:
    """One read transaction on a pooled connection of its own, outside the ORM session: every
    prebuilt statement and transactions.core() call inside runs on it, in one snapshot.

    For the agent's read-only tools whose handlers read only through those two (ToolSpec.
    reads_alone): the session's begin and rollback cost ~0.1 ms a call, three times what
    SQLite spends on a whole read. Anything that touches the ORM session here would read
    from a second snapshot, so that is refused (SessionUsedWhileReadingAlone), and the
    caller reads again on the session (invocation._read). The transaction is rolled back
    at the end (it wrote nothing).
    """
    with db.engine.connect() as connection:
        transaction = connection.begin()
        token = _reading_alone.set(connection)
        try:
            yield connection
        finally:
            _reading_alone.reset(token)
            if transaction.is_active:  # not after the connection was lost
                transaction.rollback()


@event.listens_for(Session, "after_begin")
def _refuse_the_session_while_reading_alone(_session, _transaction, _connection) -> None:
    if _reading_alone.get() is not None:
        raise SessionUsedWhileReadingAlone(
            "the ORM session was used inside read_alone: this tool reads through the session "
            "(drop its reads_alone flag, or read through prebuilt statements)"
        )


def write_alone(statements: list[tuple[Prebuilt, dict]], *, wait: bool = True) -> None:
    """Run `statements` (no rows returned) as one short write transaction on a pooled DBAPI
    connection of its own, outside the ORM session: for bookkeeping that writes nothing
    else, such as a read-only agent call's audit row and rate-limit spend, where the
    session's begin/commit machinery cost more than the statements (≈ 0.13 ms a call).

    Like write_transaction it queues for the writer lock and, on SQLite, begins with BEGIN
    IMMEDIATE; PostgreSQL's driver opens the transaction with the first statement. The
    caller must hold no write transaction of its own (on SQLite the two would wait for each
    other): end the session's transaction first. While anything listens for cursor
    executions, or a statement cannot be replayed, the same statements run through
    SQLAlchemy instead (engine.begin()).
    """
    engine = db.engine
    dialect = engine.dialect
    plans = [prebuilt._plan(dialect) for prebuilt, _ in statements]
    replays = [
        prebuilt._fast(engine, plan, params)
        for (prebuilt, params), plan in zip(statements, plans, strict=True)
    ]
    queue = current_app.extensions.get("deskwoot_writer_queue")
    token = write_intent.set(True)  # makes SQLAlchemy's BEGIN an IMMEDIATE one (engine.py)
    try:
        with queue.turn(wait) if queue is not None else nullcontext():
            if any(replay is None for replay in replays):
                with engine.begin() as connection:
                    for prebuilt, params in statements:
                        connection.execute(prebuilt.statement, params)
                return
            pooled = engine.raw_connection()
            try:
                if dialect.name == "sqlite":
                    with _driver_errors(pooled, dialect, _BEGIN, (), pooled.invalidate):
                        pooled.execute(_BEGIN)  # sqlite3's shortcut: a cursor of its own
                for plan, replay in zip(plans, replays, strict=True):
                    _on_cursor(pooled, dialect, plan, replay, False, pooled.invalidate)
                with _driver_errors(pooled, dialect, "COMMIT", (), pooled.invalidate):
                    pooled.commit()
            finally:
                pooled.close()  # back to the pool, which rolls back whatever did not commit
    finally:
        write_intent.reset(token)
