"""When the database cannot be written or reached: answer 503, and recover on its own."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError

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


def configure_recovery(engine: Engine) -> None:
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
