"""Prebuilt statements: a Core statement compiled once per dialect and run on the DBAPI cursor.

The agent's hot paths (the gate's token read, the audit row, the rate-limit spend, a
conversation and its messages) run a handful of fixed statements per request. Through
SQLAlchemy's execution path each one costs far more Python than SQL: the compiled-cache key,
an execution context, parameter processing and a CursorResult, about 0.1 ms a statement
against some 20 µs for SQLite to run it. A Prebuilt keeps what SQLAlchemy computes anyway
(the SQL text for the dialect, the order of the parameters and each type's bind and result
processors) and replays it on the session's own connection and transaction, so nothing
changes about what runs or when: the same SQL, the same values, the same transaction.

It steps aside (runs the ordinary SQLAlchemy path) whenever that path is observable: while
anything listens for cursor execution (tests and the profiler count statements that way),
and for what it does not handle (an empty expanding IN list, literal-execute parameters).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, InvalidRequestError
from sqlalchemy.sql.elements import ClauseElement

from deskwoot.database.availability import driver_error_is_unavailable
from deskwoot.extensions import db

_POSTCOMPILE = "__[POSTCOMPILE_{}]"


class _Plan:
    """One statement compiled for one dialect."""

    def __init__(self, statement: ClauseElement, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.positional = compiled.positional
        self.order: Sequence[str] = tuple(compiled.positiontup or ()) if self.positional else ()
        binds = compiled.binds
        self.expanding = frozenset(name for name, bind in binds.items() if bind.expanding)
        # Python-side column defaults (default=, onupdate=) are computed per execution by
        # SQLAlchemy; so are "post-compile" (literal_execute) values, except the expanding
        # lists rendered here. A statement needing either takes SQLAlchemy's own path.
        # A bind whose value is a callable is evaluated per execution too.
        self.usable = (
            not (compiled.insert_prefetch or compiled.update_prefetch)
            and all(
                _POSTCOMPILE.format(name) not in self.sql or name in self.expanding
                for name in binds
            )
            and not any(bind.callable is not None for bind in binds.values())
        )
        self.keys = {name: bind.key for name, bind in binds.items()}
        self.defaults = {name: bind.value for name, bind in binds.items() if not bind.required}
        self.bind_processors: dict[str, Callable] = {}
        for name, bind in binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.bind_processors[name] = processor
        columns = getattr(statement, "selected_columns", None)
        if columns is None:
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

    def value(self, name: str, params: dict) -> Any:
        key = self.keys[name]
        if key in params:
            value = params[key]
        elif name in self.defaults:
            value = self.defaults[name]
        else:  # as SQLAlchemy's own path would say
            raise InvalidRequestError(f"A value is required for bind parameter {key!r}")
        processor = self.bind_processors.get(name)
        return processor(value) if processor is not None else value

    def arguments(self, params: dict) -> tuple[str, Any]:
        """The SQL and the DBAPI parameters for one execution."""
        sql = self.sql
        if self.positional:
            values: list = []
            for name in self.order:
                if name in self.expanding:
                    items = params[self.keys[name]]
                    processor = self.bind_processors.get(name)
                    values.extend(map(processor, items) if processor else items)
                else:
                    values.append(self.value(name, params))
            for name in self.expanding:
                count = len(params[self.keys[name]])
                sql = sql.replace(_POSTCOMPILE.format(name), ", ".join("?" * count))
            return sql, values
        named = {name: self.value(name, params) for name in self.keys if name not in self.expanding}
        for name in self.expanding:
            items = list(params[self.keys[name]])
            processor = self.bind_processors.get(name)
            if processor is not None:
                items = [processor(item) for item in items]
            slots = [f"{name}__{i}" for i in range(len(items))]
            named.update(zip(slots, items, strict=True))
            sql = sql.replace(_POSTCOMPILE.format(name), ", ".join(f"%({slot})s" for slot in slots))
        return sql, named

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

    def _fast(self, engine, plan: _Plan, params: dict) -> bool:
        if not plan.usable or engine.dispatch.before_cursor_execute:
            return False
        return all(params.get(plan.keys[name]) for name in plan.expanding)

    def rows(self, params: dict | None = None) -> list:
        """All rows (attribute access by column key), on the session's transaction."""
        return self._execute(params or {}, fetch=True)

    def first(self, params: dict | None = None):
        found = self.rows(params)
        return found[0] if found else None

    def run(self, params: dict | None = None) -> None:
        """Execute a statement that returns no rows (INSERT, UPDATE)."""
        self._execute(params or {}, fetch=False)

    def first_alone(self, params: dict | None = None):
        """The first row, read on a pooled DBAPI connection of its own, outside the session's
        transaction: for a lone read that should not open the request's transaction (the
        gate's token check, which is all a tools/list needs from the database)."""
        params = params or {}
        engine = db.engine
        plan = self._plan(engine.dialect)
        if not self._fast(engine, plan, params):
            with engine.connect() as connection:
                found = list(connection.execute(self.statement, params))
        else:
            pooled = engine.raw_connection()
            try:
                found = _on_cursor(pooled, engine.dialect, plan, params, True, pooled.invalidate)
            finally:
                pooled.close()  # back to the pool, which ends any transaction the read began
        return found[0] if found else None

    def _execute(self, params: dict, fetch: bool):
        connection = db.session.connection()
        plan = self._plan(connection.dialect)
        if not self._fast(connection.engine, plan, params):
            result = connection.execute(self.statement, params)
            return list(result) if fetch else None
        return _on_cursor(
            connection.connection, connection.dialect, plan, params, fetch, connection.invalidate
        )


def _on_cursor(pooled, dialect: Dialect, plan: _Plan, params: dict, fetch: bool, invalidate):
    """Run a plan on a pooled DBAPI connection; driver errors come out as SQLAlchemy's
    (IntegrityError, OperationalError…, with .orig), so callers' handling (conflicts,
    transient retries, a 503 for an unavailable database) is the same on both paths, and a
    lost connection, or one that found the database read-only, full or failing (as the
    engine's handle_error hook decides on the other path), is invalidated so the pool never
    hands it out again."""
    sql, arguments = plan.arguments(params)
    cursor = pooled.cursor()
    try:
        cursor.execute(sql, arguments)
        return plan.rows(cursor) if fetch else None
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
    finally:
        # An invalidated SQLite connection is closed already, and its cursor with it.
        with suppress(dialect.loaded_dbapi.Error):
            cursor.close()
