"""Schema migrations with Alembic, driven from the app's own engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from deskwoot.extensions import db

MIGRATIONS = Path(__file__).parent.parent / "migrations"


def _config(connection=None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(revision: str = "head") -> None:
    """Bring the database schema up to `revision` (call inside an app context)."""
    with db.engine.connect() as connection:
        command.upgrade(_config(connection), revision)
        connection.commit()


def revision(message: str, autogenerate: bool = True) -> None:
    """Write a new migration script (developers only)."""
    with db.engine.connect() as connection:
        command.revision(_config(connection), message=message, autogenerate=autogenerate)


def current_revision() -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def is_current() -> bool:
    return current_revision() == head_revision()


def require_current(app) -> None:
    """Refuse to serve an unmigrated database, with the command that fixes it."""
    with app.app_context():
        if not is_current():
            raise SystemExit(
                "Deskwoot: the database schema is not up to date "
                f"({current_revision() or 'empty'} != {head_revision()}). "
                "Run `deskwoot db upgrade` first."
            )
