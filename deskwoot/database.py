"""Engine setup: SQLite pragmas and BEGIN IMMEDIATE for writes, PostgreSQL as is (DESIGN §7)."""

from __future__ import annotations

import contextvars
import fcntl
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TypeVar

from flask import current_app
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError

from deskwoot.errors import Conflict
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
        _configure_recovery(engine)
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
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


def _file_is_read_only(path: str) -> bool:
    """Whether SQLite just opened `path` read-only. It tries O_RDWR and, when the system says
    no (chmod, chattr +i, a read-only mount), quietly falls back to O_RDONLY for good: that
    connection answers "attempt to write a readonly database" to every write even after the
    file is writable again. The same open, tried here, tells which way it went."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False  # SQLite creates it, read-write
    except OSError:
        return True
    os.close(fd)
    return False


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


# --- When the database cannot be written or reached -----------------------------------------
#
# A read-only file (a backup tool, chmod, chattr +i), a full disk, an I/O error, a PostgreSQL
# server that is read-only, shutting down or gone: none of it is the request's fault and all
# of it passes. Two things follow. The request is answered 503 with Retry-After (adapters ask
# is_unavailable), not 500. And no connection that saw it is used again: a pooled connection
# opened read-only would otherwise keep failing every write until the workers restart.

RETRY_AFTER_SECONDS = 5
UNAVAILABLE_MESSAGE = (
    "The database cannot be written right now (it is read-only, full or unreachable), "
    "so nothing was changed. Retry in a few seconds."
)
# record.info key: the connection was opened read-only (see _retire_read_only).
OPENED_READ_ONLY = "deskwoot_opened_read_only"

# SQLite primary result codes (the low byte of an extended code such as SQLITE_IOERR_WRITE).
SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN = 8, 10, 13, 14
UNAVAILABLE_SQLITE_CODES = frozenset({SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN})
# PostgreSQL: read_only_sql_transaction, admin/crash shutdown, cannot_connect_now (starting
# up), disk_full, io_error; and class 08, connection exceptions.
UNAVAILABLE_SQLSTATES = frozenset({"25006", "57P01", "57P02", "57P03", "53100", "58030"})


class DatabaseUnavailable(Exception):
    """The database cannot be written or reached right now, for a reason outside the request."""


def driver_error_is_unavailable(error: BaseException | None) -> bool:
    """Whether a DBAPI exception says "the database cannot be written or reached" rather
    than "this statement is wrong"."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in UNAVAILABLE_SQLITE_CODES
    sqlstate = getattr(error, "sqlstate", None)
    return sqlstate is not None and (sqlstate in UNAVAILABLE_SQLSTATES or sqlstate[:2] == "08")


def is_unavailable(exc: BaseException | None) -> bool:
    """Whether `exc` is the database being unavailable (answer 503 and Retry-After)."""
    if isinstance(exc, DatabaseUnavailable):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    return exc.connection_invalidated or driver_error_is_unavailable(exc.orig)


def _configure_recovery(engine: Engine) -> None:
    @event.listens_for(engine, "handle_error")
    def _discard_unusable(context):
        # Treated as a lost connection, SQLAlchemy invalidates it and every connection the
        # pool opened before now, so the next checkout opens a fresh one that sees the
        # database as it is by then (writable again, or still not, and then 503 again).
        if driver_error_is_unavailable(context.original_exception):
            context.is_disconnect = True

    @event.listens_for(engine, "checkout")
    def _retire_read_only(_dbapi_conn, record, _proxy):
        # A connection opened read-only serves one checkout: reads keep working while the
        # database is read-only, and the first request after it is writable again gets a
        # connection that can write, instead of a 503 from a stale read-only one.
        state = record.info.get(OPENED_READ_ONLY)
        if state == "used":
            raise DisconnectionError("opened while the database was read-only")
        if state:
            record.info[OPENED_READ_ONLY] = "used"


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
    if _write_intent.get():
        # Nested call inside an ongoing write: join it.
        with _conflicts(taken):
            yield session
        return
    if session.in_transaction():
        session.commit()
    queue = current_app.extensions.get("deskwoot_writer_queue")
    token = _write_intent.set(True)
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
        _write_intent.reset(token)
