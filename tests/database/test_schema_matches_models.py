"""The migrations and the models describe one schema: a database upgraded from empty to head
has exactly the tables, columns, indexes and constraints the models declare (what
`alembic revision --autogenerate` would find is nothing), on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from deskwoot.extensions import db
from deskwoot.models import Base


def test_upgraded_schema_matches_the_models(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    # Search tables are maintained by hand-written DDL (FTS5 / tsvector), not by the models.
    diff = [d for d in diff if "search" not in repr(d) and "_fts" not in repr(d)]
    assert diff == []
