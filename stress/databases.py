"""A fresh database for one stress run: a SQLite file in a temp dir, or a new PostgreSQL
database on a server we are given (the test suite's) or on a throwaway cluster we start
(scripts/pg-cluster.sh). Every run starts empty, so nothing earlier can hide a loss."""

from __future__ import annotations

import secrets
import shlex
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Database:
    kind: str  # "sqlite" | "postgresql"
    url: str  # SQLAlchemy URL, also given to the server as DATABASE_URL
    path: Path | None = None  # the SQLite file


def sqlalchemy_url(url: str) -> str:
    """The psycopg 3 form of a pasted postgresql:// URL (as deskwoot.config does)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


@contextmanager
def sqlite_database(workdir: Path) -> Iterator[Database]:
    path = workdir / "stress.sqlite3"
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    yield Database("sqlite", f"sqlite:///{path.resolve()}", path)


@contextmanager
def postgres_database(server_url: str) -> Iterator[Database]:
    """CREATE DATABASE with a unique name on the server behind `server_url`; DROP it after."""
    admin_url = make_url(sqlalchemy_url(server_url))
    name = f"deskwoot_stress_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        try:
            yield Database("postgresql", url)
        finally:
            with admin.connect() as conn:
                # FORCE: a server killed with -9 may leave a backend that has not noticed yet.
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Start a PostgreSQL cluster with scripts/pg-cluster.sh; yields its URL, stops it after."""
    started = subprocess.run(  # noqa: S603 - our own script
        ["bash", str(ROOT / "scripts" / "pg-cluster.sh"), "start"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    if started.returncode != 0:
        raise RuntimeError(f"scripts/pg-cluster.sh start failed:\n{started.stderr[-3000:]}")
    assignments = dict(line.split("=", 1) for line in shlex.split(started.stdout) if "=" in line)
    pgdir, pgurl = assignments.get("PGDIR"), assignments.get("PGURL")
    if not pgdir or not pgurl:
        raise RuntimeError(f"pg-cluster.sh printed no PGDIR/PGURL:\n{started.stdout}")
    try:
        yield pgurl
    finally:
        subprocess.run(  # noqa: S603 - our own script
            ["bash", str(ROOT / "scripts" / "pg-cluster.sh"), "stop", pgdir],  # noqa: S607
            capture_output=True,
            check=False,
        )
