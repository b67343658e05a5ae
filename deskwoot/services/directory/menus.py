"""The names the busy pages list in their menus, as plain rows: the conversation list's
inbox, assignee and label filters and the layout's workspace switcher.

Every page view reads them, and as ORM entities they cost ~0.2 ms each in loading and
statement building for a handful of names; these are prebuilt statements
(database/prebuilt.py) over only the columns shown. They are read on every request — never
cached — so a renamed label or a teammate removed from an inbox shows on the next page.
Reach is policy's (INBOX_REACH); the settings screens keep the entities (inboxes.py,
labels.py, workspaces.py).
"""

from __future__ import annotations

from sqlalchemy import bindparam, select

from deskwoot import policy
from deskwoot.database.prebuilt import Prebuilt
from deskwoot.models import Inbox, Label, Membership, User, Workspace
from deskwoot.policy import Actor

_INBOXES = {
    variant: Prebuilt(select(Inbox.id, Inbox.name).where(reach).order_by(Inbox.name))
    for variant, reach in policy.INBOX_REACH.items()
}
_LABELS = Prebuilt(
    select(Label.name, Label.color)
    .where(Label.workspace_id == bindparam("workspace_id"))
    .order_by(Label.name)
)
_TEAM = Prebuilt(
    select(User.id, User.name, Membership.role)
    .join(Membership, Membership.user_id == User.id)
    .where(Membership.workspace_id == bindparam("workspace_id"), User.kind == "human")
    .order_by(User.name)
)
_WORKSPACES = Prebuilt(
    select(Workspace.id, Workspace.name, Workspace.slug, Membership.role)
    .join(Membership, Membership.workspace_id == Workspace.id)
    .where(Membership.user_id == bindparam("user_id"))
    .order_by(Workspace.name)
)


def inboxes(actor: Actor) -> list:
    """The inboxes the actor can see (id, name), by name: inboxes.list_inboxes' rows."""
    variant, params = policy.inbox_reach(actor)
    return _INBOXES[variant].rows(params)


def labels(actor: Actor) -> list:
    """The workspace's labels (name, color), by name: labels.list_labels' rows."""
    return _LABELS.rows({"workspace_id": actor.workspace_id})


def team(actor: Actor) -> list:
    """The workspace's people (id, name, role), by name: workspaces.team's rows."""
    return _TEAM.rows({"workspace_id": actor.workspace_id})


def workspaces(user_id: int) -> list:
    """The person's workspaces (id, name, slug, role), by name: workspaces_for's rows."""
    return _WORKSPACES.rows({"user_id": user_id})
