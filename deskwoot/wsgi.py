"""gunicorn entry points that refuse an unmigrated database (DESIGN §2)."""

from __future__ import annotations

import sys

from flask import Flask

from deskwoot import create_app, migrate

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
    """Build the app for `gunicorn 'deskwoot.wsgi:create()'` (works from any directory)."""
    app = create_app()
    refuse_unmigrated(app)
    return app
