"""The engine: SQLite pragmas and BEGIN IMMEDIATE for writes, PostgreSQL as is, and the
queue SQLite writers wait in (ARCHITECTURE §8)."""

from __future__ import annotations

import contextvars
import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine

from deskwoot.database.availability import (
    OPENED_READ_ONLY,
    DatabaseUnavailable,
    configure_recovery,
)
from deskwoot.extensions import db

# Set while a service runs a write transaction, so the SQLite BEGIN becomes BEGIN IMMEDIATE.
# A deferred transaction that reads and then writes gets SQLITE_BUSY at once when another
# writer holds the lock, ignoring busy_timeout; IMMEDIATE takes the write lock up front and
# waits politely instead.
write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=False)

BUSY_TIMEOUT_MS = 10_000


def init_app(app) -> None:
    """Install the connection hooks on the app's engine."""
    with app.app_context():
        engine = db.engine
        configure_recovery(engine)
        if engine.dialect.name == "sqlite":
            database = engine.url.database
            on_disk = bool(database) and database != ":memory:" and not database.startswith("file:")
            _configure_sqlite(engine, database if on_disk else None)
            if on_disk:
                app.extensions["deskwoot_writer_queue"] = WriterQueue(database + "-writers")
        elif engine.dialect.name == "postgresql":
            _configure_postgresql(engine)


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
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:  # a read-only or full directory: the database's trouble too
                raise DatabaseUnavailable(f"cannot open {self.path}: {exc.strerror}") from exc
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


def _configure_sqlite(engine: Engine, path: str | None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, record):
        # Take transaction control away from the sqlite3 module so we can issue our own BEGIN.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()
        if path is not None and _file_is_read_only(path):
            record.info[OPENED_READ_ONLY] = True

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")


def _file_is_read_only(path: str) -> bool:
    """Whether SQLite just opened `path` read-only. It tries O_RDWR and, when the system says
    no (chmod, chattr +i, a read-only mount), quietly falls back to O_RDONLY for good: that
    connection answers "attempt to write a readonly database" to every write even after the
    file is writable again. access(2) asks the system the same question without opening the
    file: closing a descriptor of it would drop every POSIX lock this process holds on it,
    SQLite's shared lock included, and another process closing its last connection would
    then checkpoint and delete the WAL under this one's feet (a corrupt database)."""
    if not os.path.exists(path):
        return False  # SQLite creates it, read-write
    return not os.access(path, os.W_OK, effective_ids=os.access in os.supports_effective_ids)


def _configure_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, record):
        # A session opened while the database (ALTER DATABASE … SET
        # default_transaction_read_only) or the server (a hot standby) is read-only stays so
        # for its whole life, whatever changes later.
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute("SHOW transaction_read_only")
            read_only = cursor.fetchone()[0] == "on"
        finally:
            cursor.close()
        dbapi_conn.rollback()
        if read_only:
            record.info[OPENED_READ_ONLY] = True


def is_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"
