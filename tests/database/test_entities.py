"""Entities adopted from prebuilt rows (database/entities.py) are what the ORM's query would
have loaded: the same values, persistent and clean in the session, relationships loading
lazily, expired on commit; and the session's own copy when it holds one already."""

from __future__ import annotations

from sqlalchemy import inspect, select

from deskwoot.database.entities import adopt, columns
from deskwoot.extensions import db
from deskwoot.models import User, Workspace
from tests import factories


def _values(entity) -> dict:
    return {c.key: getattr(entity, c.key) for c in inspect(type(entity)).column_attrs}


def test_an_adopted_entity_is_the_loaded_one(app):
    ws = factories.make_workspace("Adopted Desk")
    user = factories.make_user(ws, role="admin", name="Ada", email="ada@adopt.test")
    user_id, ws_id = user.id, ws.id
    db.session.remove()
    row = db.session.execute(select(*columns(User)).where(User.id == user_id)).one()
    adopted = adopt(User, row)
    state = inspect(adopted)
    assert state.persistent and not state.modified and adopted in db.session
    assert db.session.get(User, user_id) is adopted  # in the identity map: no second copy
    loaded = _values(adopted)
    db.session.remove()
    assert loaded == _values(db.session.get(User, user_id))
    db.session.remove()

    adopted = adopt(
        User, db.session.execute(select(*columns(User)).where(User.id == user_id)).one()
    )
    assert [m.workspace_id for m in adopted.memberships] == [ws_id]  # lazy load works
    db.session.commit()  # nothing to write, and the entity expires like a loaded one
    assert inspect(adopted).expired_attributes
    assert adopted.name == "Ada"


def test_the_session_s_own_copy_wins(app):
    ws = factories.make_workspace("Held Desk")
    held = db.session.get(Workspace, ws.id)
    row = db.session.execute(select(*columns(Workspace)).where(Workspace.id == ws.id)).one()
    assert adopt(Workspace, row) is held
