"""Labels: the workspace's shared tags for conversations."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from deskwoot import policy
from deskwoot.database.transactions import Taken, write_transaction
from deskwoot.errors import Conflict, Invalid, NotFound
from deskwoot.extensions import db
from deskwoot.models import Label
from deskwoot.policy import Actor
from deskwoot.services.activity import audit_recorder as audit

NAME_RE = re.compile(r"^[\w][\w\- ]{0,63}$", re.UNICODE)
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


def list_labels(actor: Actor) -> list[Label]:
    return list(db.session.execute(policy.labels(actor).order_by(Label.name)).scalars())


def create_label(
    actor: Actor, name: str, color: str = "#6b7280", description: str | None = None
) -> Label:
    """Add a label (admins)."""
    policy.require_admin(actor)
    name = (name or "").strip().lower()
    if not NAME_RE.match(name):
        raise Invalid("Label names are 1-64 letters, digits, spaces, - or _.", field="name")
    if not COLOR_RE.match(color or ""):
        raise Invalid("Colour must look like #1f6feb.", field="color")
    duplicate = f"There is already a label called '{name}'."
    # The check below, backed by the unique index when two admins add it at the same moment.
    same_name = Taken("uq_labels_workspace_id_name", duplicate, field="name")
    with write_transaction(taken=[same_name]) as session:
        exists = session.execute(
            policy.labels(actor).where(func.lower(Label.name) == name)
        ).scalar_one_or_none()
        if exists is not None:
            raise Conflict(duplicate, field="name")
        label = Label(
            workspace_id=actor.workspace_id,
            name=name,
            color=color.lower(),
            description=(description or "").strip()[:200] or None,
        )
        session.add(label)
        audit.record(actor, "label.created", target=name)
    return label


def delete_label(actor: Actor, label_id: int) -> None:
    """Remove a label from the workspace and every conversation (admins)."""
    policy.require_admin(actor)
    with write_transaction() as session:
        label = session.execute(
            policy.labels(actor).where(Label.id == label_id)
        ).scalar_one_or_none()
        if label is None:
            raise NotFound("No such label.")
        session.delete(label)
        audit.record(actor, "label.deleted", target=label.name)


def label_names(actor: Actor) -> list[str]:
    return list(
        db.session.execute(
            select(Label.name).where(Label.workspace_id == actor.workspace_id).order_by(Label.name)
        ).scalars()
    )
