"""Engine setup: SQLite pragmas and BEGIN IMMEDIATE for writes, PostgreSQL as is (DESIGN §7)."""

from __future__ import annotations

import contextvars
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import TypeVar

from flask import current_app
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from deskwoot.extensions import db

# Set while a service runs a write transaction, so the SQLite BEGIN becomes BEGIN IMMEDIATE.
# A deferred transaction that reads and then writes gets SQLITE_BUSY at once when another
# writer holds the lock, ignoring busy_timeout; IMMEDIATE takes the write lock up front and
# waits politely instead.
_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=False)

BUSY_TIMEOUT_MS = 10_000
T = TypeVar("T")


def init_app(app) -> None:
    """Install the connection hooks on the app's engine."""
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            _configure_sqlite(engine)
            database = engine.url.database
            if database and database != ":memory:" and not database.startswith("file:"):
                app.extensions["deskwoot_writer_queue"] = WriterQueue(database + "-writers")


class WriterQueue:
    """Lines SQLite writers up in the kernel instead of in SQLite's busy handler.

    SQLite lets one writer in at a time; the others wait in its busy handler, which polls
    with sleeps of 1, 2, 5, 10 … 100 ms and has no notion of who came first. With several
    gunicorn workers writing (every agent call writes its audit row) a writer could lose
    that race again and again: replies saw p99 latencies near two seconds while the lock was
    mostly free. An exclusive flock() on a file beside the database, taken before BEGIN
    IMMEDIATE and released after COMMIT, queues the writers of every process, and the next
    one wakes the moment the lock is released (a threading lock does the same for threads
    of one process, which share the file description). SQLite's own lock still guards the
    data: a writer that does not queue (another program) is only waited for, as before.
    """

    def __init__(self, path: str):
        self.path = path
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid: int | None = None

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked worker opens its own
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def turn(self, wait: bool = True) -> Iterator[None]:
        """Hold the queue; with wait=False raise WriterBusy at once if someone else holds it."""
        if not self._threads.acquire(blocking=wait):
            raise WriterBusy
        try:
            fd = self._file()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise WriterBusy from exc
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


class WriterBusy(Exception):
    """Another writer holds the queue, and the caller asked not to wait for it."""


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Take transaction control away from the sqlite3 module so we can issue our own BEGIN.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


def is_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


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
    paths, which read and write plain rows. Returns the CursorResult."""
    return db.session.connection().execute(statement, params or {})


@contextmanager
def write_transaction(*, wait: bool = True) -> Iterator:
    """Run one write unit of work: commit on success, roll back on any error.

    Any read transaction the request already holds is ended first, so the write starts fresh
    with the write lock (SQLite) instead of upgrading a read snapshot.

    wait=False is for bookkeeping that must never hold up real work (counting refused
    requests): on SQLite it raises WriterBusy instead of queueing behind another writer.
    PostgreSQL has no such queue; such callers avoid row locks there themselves.
    """
    session = db.session()  # the request's Session behind the scoped proxy
    if _write_intent.get():
        # Nested call inside an ongoing write: join it.
        yield session
        return
    if session.in_transaction():
        session.commit()
    queue = current_app.extensions.get("deskwoot_writer_queue")
    token = _write_intent.set(True)
    try:
        with queue.turn(wait) if queue is not None else nullcontext():
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
    finally:
        _write_intent.reset(token)
