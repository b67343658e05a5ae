"""gunicorn entry points that refuse an unmigrated database (ARCHITECTURE §1-2)."""

from __future__ import annotations

import sys

from flask import Flask

from deskwoot import create_app
from deskwoot.database import migrate
from deskwoot.extensions import db

# gunicorn respawns a worker that exits with 1 forever; 3 (worker boot error) stops the master.
WORKER_BOOT_ERROR = 3


def refuse_unmigrated(app: Flask) -> None:
    """Exit with the fix printed when the schema is behind, so nothing half-works."""
    try:
        migrate.require_current(app)
    except SystemExit as refusal:
        print(refusal, file=sys.stderr)
        raise SystemExit(WORKER_BOOT_ERROR) from None


def create() -> Flask:
    """Build the app for `gunicorn --preload 'deskwoot.wsgi:create()'` (any directory).

    With --preload this runs once in the master and the workers are forked from it: they
    share the imported code (the mcp package alone costs ~2.5 s of CPU per import), so all
    four start, or restart after a crash, in about the time of one. The schema check's
    connection is closed first: a database connection must never cross a fork.
    """
    app = create_app()
    refuse_unmigrated(app)
    with app.app_context():
        db.engine.dispose()
    return app
