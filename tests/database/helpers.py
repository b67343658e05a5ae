"""Shared by the database tests: connections that refuse writes the way a real outage does."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from deskwoot.extensions import db


@contextmanager
def read_only_connections():
    """Every connection opened meanwhile refuses writes with the driver's own read-only error:
    SQLite's "attempt to write a readonly database" (PRAGMA query_only) or PostgreSQL's
    read_only_sql_transaction, what a read-only file or `ALTER DATABASE … SET
    default_transaction_read_only` give. The flag is the connection's and never clears by
    itself, so writes working again afterwards prove those connections were thrown away."""
    engine = db.engine

    def make_read_only(dbapi_conn, _record):
        cursor = dbapi_conn.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA query_only = ON")
        else:
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            dbapi_conn.commit()
        cursor.close()

    db.session.remove()
    engine.dispose()  # the connections the test opened so far were writable
    event.listen(engine, "connect", make_read_only)
    try:
        yield
    finally:
        event.remove(engine, "connect", make_read_only)
