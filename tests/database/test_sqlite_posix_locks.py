"""SQLite keeps its locks as POSIX advisory locks, which a process loses, all of them, the
moment it closes any descriptor of the file. Opening a connection must not do that: if it
did, another process (a second gunicorn worker, `deskwoot email receive`) closing its own
connection would believe itself the last one, checkpoint and delete the WAL under this
process's open connections, and their next writes would land on pages the others reuse —
a corrupt database (found by tests/e2e_email: a reply's outbox row read back as a
conversation)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from deskwoot import create_app
from deskwoot.extensions import db
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(bool(PG_URL), reason="SQLite's file locks")

# Another process opens the database, writes, closes: the last connection to close
# checkpoints the WAL into the database and deletes it.
OTHER_PROCESS = """
import sqlite3, sys
other = sqlite3.connect(sys.argv[1], isolation_level=None)
other.execute("INSERT INTO probe VALUES (2)")
other.close()
"""


def test_a_new_connection_keeps_the_locks_of_the_open_ones(database_url, tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test"})
    path = Path(database_url.removeprefix("sqlite:///"))
    with app.app_context():
        with db.engine.begin() as first:
            first.execute(text("CREATE TABLE probe (n INTEGER)"))
            first.execute(text("INSERT INTO probe VALUES (1)"))
        with db.engine.connect() as held, db.engine.connect() as opened_after:
            held.execute(text("SELECT count(*) FROM probe")).scalar_one()
            opened_after.execute(text("SELECT 1"))
            subprocess.run([sys.executable, "-c", OTHER_PROCESS, str(path)], check=True)
            # This process still holds its shared lock: the other could not take the WAL away.
            assert Path(f"{path}-wal").exists()
            held.rollback()  # end the read snapshot taken before the other process wrote
            assert held.execute(text("SELECT count(*) FROM probe")).scalar_one() == 2
        db.engine.dispose()
