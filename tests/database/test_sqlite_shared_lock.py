"""A Deskwoot SQLite connection keeps SQLite's shared lock on the database file, so another
process that closes its last connection (a `deskwoot worker` stopping, an MTA pipe's
`deskwoot email receive`) cannot take the file for itself, checkpoint and delete the WAL
under the server's live connections — which corrupted the database ("database disk image is
malformed") in the stress run once workers stopped while gunicorn served.

The connect hook used to open and close the database file to see whether SQLite had opened
it read-only; closing any descriptor of a file drops every POSIX lock the process holds on
it. It asks access(2) now, which opens nothing.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

from sqlalchemy import text

from deskwoot import create_app
from deskwoot.extensions import db


def _locks_held_on(path) -> list[str]:
    inode = os.stat(path).st_ino
    with open("/proc/locks") as locks:
        return [line for line in locks if f":{inode} " in line and f" {os.getpid()} " in line]


def test_another_process_closing_its_connection_leaves_the_wal_alone(tmp_path):
    path = tmp_path / "desk.sqlite3"
    seed = sqlite3.connect(path)
    seed.execute("PRAGMA journal_mode = WAL")
    seed.execute("CREATE TABLE t (x)")
    seed.execute("INSERT INTO t VALUES (1)")
    seed.commit()
    seed.close()

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "x"})
    with app.app_context():
        try:
            with db.engine.connect() as live:  # a gunicorn worker's pooled connection
                live.execute(text("SELECT x FROM t")).all()
                assert _locks_held_on(path), "the connection holds no lock on the database"
                wal = path.with_name(path.name + "-wal")
                assert wal.exists()
                subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                        "c.execute('SELECT x FROM t').fetchall(); c.close()",
                        str(path),
                    ],
                    check=True,
                )
                assert wal.exists(), "the WAL was checkpointed and deleted under a live connection"
                live.execute(text("INSERT INTO t VALUES (2)"))
                live.commit()
        finally:
            db.engine.dispose()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert check.execute("SELECT count(*) FROM t").fetchone() == (2,)
    check.close()
