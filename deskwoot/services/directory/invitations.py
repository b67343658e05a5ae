"""Inviting people into a workspace.

Accounts are global: one person, one login, any number of workspaces. So an admin never
creates an account or picks its password, and never attaches an existing account: that let
anyone pre-register someone else's address in their own workspace and later be let into the
real one under that address. An admin invites an email with a role (and inboxes); the person
then either sets up a new account from the one-time link, or, when an account with that
address exists, accepts while logged in as it. The link goes by mail when a sender is
registered (services/operations/mail.py) and is otherwise shown once to the admin to pass on.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from deskwoot import policy
from deskwoot.database.transactions import Taken, violated_unique, write_transaction
from deskwoot.errors import Conflict, Forbidden, Invalid, NotFound
from deskwoot.extensions import db
from deskwoot.models import (
    Inbox,
    InboxMember,
    Invitation,
    Membership,
    User,
    Workspace,
    utcnow,
)
from deskwoot.models.workspace import ROLES
from deskwoot.policy import Actor
from deskwoot.services.access.password_hashing import hash_password
from deskwoot.services.access.random_secrets import digest
from deskwoot.services.activity import audit_recorder as audit
from deskwoot.services.directory.workspaces import (
    already_on_team,
    human_account,
    normalize_email,
    user_by_email,
)
from deskwoot.services.operations import mail

INVITATION_DAYS = 7
INVITE_PATH = "/invite/"
GONE = (
    "This invitation has expired, was revoked or was already used. Ask an admin of the "
    "workspace for a new one."
)


@dataclass
class Issued:
    """A fresh invitation link: `url` is shown once to the admin unless it was `emailed`."""

    invitation: Invitation
    url: str
    emailed: bool


def invite(actor: Actor, email: str, role: str, inbox_ids: list[int] | None = None) -> Issued:
    """Invite `email` to the actor's workspace as `role`, working `inbox_ids` (agents)."""
    policy.require_admin(actor)
    if role not in ROLES:
        raise Invalid(f"Role must be one of: {', '.join(ROLES)}.", field="role")
    email = normalize_email(email)
    inbox_ids = sorted(set(inbox_ids or []))
    for inbox_id in inbox_ids:
        policy.get_inbox(actor, inbox_id)  # out of reach: not found
    raw = secrets.token_urlsafe(32)
    already = f"{email} has already been invited. Use “New link” on the team page for a new link."
    with write_transaction(
        taken=(Taken("uq_invitations_workspace_id_email", already, field="email"),)
    ) as session:
        user = user_by_email(email)
        if user is not None and user.kind != "human":
            raise Conflict("That address belongs to a bot account.", field="email")
        if user is not None and already_on_team(actor.workspace_id, user.id):
            raise Conflict(f"{email} is already on this team.", field="email")
        earlier = _pending(actor.workspace_id, email)
        if earlier is not None and earlier.expires_at > utcnow():
            raise Conflict(already, field="email")
        if earlier is not None:  # an expired one gives way to the new invitation
            session.delete(earlier)
            session.flush()
        invitation = Invitation(
            workspace_id=actor.workspace_id,
            email=email,
            role=role,
            inbox_ids=inbox_ids if role != "admin" else [],
            token_hash=digest(raw),
            invited_by_id=actor.user_id if actor.kind == "human" else None,
            invited_by_name=actor.name[:120],
            created_at=utcnow(),
            expires_at=utcnow() + timedelta(days=INVITATION_DAYS),
        )
        session.add(invitation)
        session.flush()  # a twin committed meanwhile fails here, on the unique index
        audit.record(actor, "team.invite_created", target=email, detail=f"role={role}")
    return _deliver(invitation, raw)


def new_link(actor: Actor, invitation_id: int) -> Issued:
    """Replace a pending invitation's link (lost, or expired) with a fresh one; the old one
    stops working."""
    policy.require_admin(actor)
    raw = secrets.token_urlsafe(32)
    with write_transaction():
        invitation = _in_workspace(actor, invitation_id)
        invitation.token_hash = digest(raw)
        invitation.expires_at = utcnow() + timedelta(days=INVITATION_DAYS)
        audit.record(actor, "team.invite_link_created", target=invitation.email)
    return _deliver(invitation, raw)


def revoke(actor: Actor, invitation_id: int) -> str:
    """Withdraw a pending invitation; its link stops working. Returns the email."""
    policy.require_admin(actor)
    with write_transaction() as session:
        invitation = _in_workspace(actor, invitation_id)
        email = invitation.email
        session.delete(invitation)
        audit.record(actor, "team.invite_revoked", target=email)
    return email


def pending(actor: Actor) -> list[Invitation]:
    """The workspace's invitations not yet accepted or revoked (expired ones included)."""
    policy.require_admin(actor)
    return list(
        db.session.execute(
            select(Invitation)
            .where(Invitation.workspace_id == actor.workspace_id)
            .order_by(Invitation.created_at.desc(), Invitation.id.desc())
        ).scalars()
    )


# --- the invitee's side --------------------------------------------------------------------


@dataclass
class Opened:
    """What the person holding a link sees: whose invitation, to where, and whether an
    account with that address exists (then they must log in as it to accept)."""

    invitation: Invitation
    workspace: Workspace
    account: User | None


def open_link(raw: str) -> Opened:
    """The invitation behind a link; NotFound when it is unknown, used, revoked or expired."""
    invitation = _by_token(raw)
    return Opened(
        invitation,
        db.session.get(Workspace, invitation.workspace_id),
        user_by_email(invitation.email),
    )


def accept_with_new_account(raw: str, name: str | None, password: str) -> User:
    """Set up the invited address's account with the invitee's own name and password, and
    join. If an account with that address appeared meanwhile, they must log in to accept."""
    password_hash = hash_password(password)
    name = (name or "").strip()
    if len(name) > 120:
        raise Invalid("Keep your name under 120 characters.", field="name")
    exists = "An account with this email already exists. Log in to it to accept the invitation."
    with write_transaction(taken=(Taken("uq_users_email", exists),)) as session:
        invitation = _by_token(raw, lock=True)
        if user_by_email(invitation.email) is not None:
            raise Conflict(exists)
        user = human_account(invitation.email, name, password_hash)
        session.flush()  # an account made at the same moment fails here, on users.email
        _join(invitation, user)
    return user


def accept_as(raw: str, user: User) -> Workspace:
    """Join the workspace as `user`, the logged-in owner of the invited address."""
    try:
        with write_transaction():
            invitation = _by_token(raw, lock=True)
            # The link alone is not enough for an existing account: its holder must also be
            # logged in as the invited address, or a leaked link would join the wrong person.
            if user.email != invitation.email or user.kind != "human" or not user.is_active:
                raise Forbidden(f"This invitation is for {invitation.email}.")
            workspace_id = invitation.workspace_id
            if already_on_team(workspace_id, user.id):
                db.session.delete(invitation)  # nothing left to accept
            else:
                _join(invitation, user)
    except IntegrityError as exc:
        # A double click: the other request already joined, which is what this one wanted.
        if violated_unique(exc) != "uq_memberships_workspace_id_user_id":
            raise
    return db.session.get(Workspace, workspace_id)


def _join(invitation: Invitation, user: User) -> None:
    session = db.session
    session.add(
        Membership(workspace_id=invitation.workspace_id, user_id=user.id, role=invitation.role)
    )
    # Inboxes deleted since the invitation was sent are skipped.
    for inbox_id in session.execute(
        select(Inbox.id).where(
            Inbox.workspace_id == invitation.workspace_id,
            Inbox.id.in_(invitation.inbox_ids or []),
        )
    ).scalars():
        session.add(InboxMember(inbox_id=inbox_id, user_id=user.id))
    member = Actor(
        workspace_id=invitation.workspace_id,
        user_id=user.id,
        kind="human",
        name=user.name,
        role=invitation.role,
    )
    audit.record(
        member,
        "team.invite_accepted",
        target=invitation.email,
        detail=f"role={invitation.role}; invited by {invitation.invited_by_name}",
    )
    session.execute(delete(Invitation).where(Invitation.id == invitation.id))
    session.flush()


# --- helpers -------------------------------------------------------------------------------


def _deliver(invitation: Invitation, raw: str) -> Issued:
    workspace = db.session.get(Workspace, invitation.workspace_id)
    url = mail.link(INVITE_PATH + raw)
    emailed = mail.send(invitation_message(invitation, workspace, url))
    return Issued(invitation, url, emailed)


def invitation_message(invitation: Invitation, workspace: Workspace, url: str) -> mail.Message:
    return mail.Message(
        to=invitation.email,
        subject=f"Join {workspace.name} on Deskwoot",
        body=(
            f"{invitation.invited_by_name} invited you to {workspace.name} on Deskwoot "
            f"as {'an admin' if invitation.role == 'admin' else 'an agent'}.\n\n"
            f"Accept here (the link works once, for {INVITATION_DAYS} days):\n\n{url}\n"
        ),
    )


def _pending(workspace_id: int, email: str) -> Invitation | None:
    return db.session.execute(
        select(Invitation).where(Invitation.workspace_id == workspace_id, Invitation.email == email)
    ).scalar_one_or_none()


def _in_workspace(actor: Actor, invitation_id: int) -> Invitation:
    invitation = db.session.execute(
        select(Invitation).where(
            Invitation.id == invitation_id, Invitation.workspace_id == actor.workspace_id
        )
    ).scalar_one_or_none()
    if invitation is None:
        raise NotFound("No such invitation.")
    return invitation


def _by_token(raw: str, lock: bool = False) -> Invitation:
    query = select(Invitation).where(Invitation.token_hash == digest(raw or ""))
    if lock:
        # Two tabs accepting at once queue here (PostgreSQL; SQLite writers are serialised).
        query = query.with_for_update()
    invitation = db.session.execute(query).scalar_one_or_none()
    if invitation is None or invitation.expires_at < utcnow():
        raise NotFound(GONE)
    return invitation
