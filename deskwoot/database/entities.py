"""Entities made from a prebuilt statement's row, for reads every page view makes.

Each browser request loads its teammate (the web session check) and its workspace, and
views, templates and services use both as ORM entities (`current_user`, `g.workspace`).
Through the ORM's query path each costs ~0.15 ms of Python (statement, execution context,
loading); reading the row with a prebuilt statement (prebuilt.py) and handing it to the
session as an already-loaded entity costs a tenth of that, and the entity is the same
thing the query would have produced: persistent in the request's session, every column
loaded, no pending changes, relationships lazy-loading as usual, expired on commit.
SQLAlchemy documents the step: `make_transient_to_detached` ("as though it were loaded
from the database"), then `Session.add`.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import inspect
from sqlalchemy.orm import make_transient_to_detached

from deskwoot.extensions import db

T = TypeVar("T")


def columns(model) -> list:
    """Every column of `model`, to select for `adopt`."""
    return [getattr(model, attribute.key) for attribute in inspect(model).column_attrs]


def adopt(model: type[T], row) -> T:
    """The `model` entity whose columns are in `row` (read with `columns(model)`, the
    primary key `id` included), in the session's identity map; the one already there if
    the session holds it, as a query would return it."""
    session = db.session()
    mapper = inspect(model)
    existing = session.identity_map.get(mapper.identity_key_from_primary_key((row.id,)))
    if existing is not None:
        return existing
    entity = model(
        **{attribute.key: getattr(row, attribute.key) for attribute in mapper.column_attrs}
    )
    make_transient_to_detached(entity)  # loaded, clean: no INSERT, no history
    session.add(entity)
    return entity
