"""Workspaces, plans and the people in them."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, func, select

from deskwoot import policy
from deskwoot.database.entities import adopt, columns
from deskwoot.database.prebuilt import Prebuilt
from deskwoot.database.transactions import Taken, write_transaction
from deskwoot.errors import Conflict, Invalid, NotFound
from deskwoot.extensions import db
from deskwoot.models import Inbox, InboxMember, Membership, User, Workspace, utcnow
from deskwoot.models.workspace import PLANS, ROLES
from deskwoot.policy import Actor
from deskwoot.services.access import logins as auth_service
from deskwoot.services.access.password_hashing import hash_password
from deskwoot.services.activity import audit_recorder as audit

LAST_ADMIN = "A workspace needs at least one admin."
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(email: str | None, field: str = "email") -> str:
    email = (email or "").strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise Invalid("Enter a valid email address.", field=field)
    return email


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:48] or "workspace"


def _unique_slug(base: str) -> str:
    taken = set(
        db.session.execute(
            select(Workspace.slug).where(
                (Workspace.slug == base) | Workspace.slug.like(f"{base}-%")
            )
        ).scalars()
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


# Every page view under /w/<slug>/ reads its workspace: prebuilt, adopted as the entity.
_BY_SLUG = Prebuilt(select(*columns(Workspace)).where(Workspace.slug == bindparam("slug")))


def get_by_slug(slug: str) -> Workspace:
    row = _BY_SLUG.first({"slug": slug})
    if row is None:
        raise NotFound(f"No workspace with slug '{slug}'.")
    return adopt(Workspace, row)


def list_all() -> list[Workspace]:
    return list(db.session.execute(select(Workspace).order_by(Workspace.id)).scalars())


def workspaces_for(user: User) -> list[tuple[Workspace, str]]:
    rows = db.session.execute(
        select(Workspace, Membership.role)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(Membership.user_id == user.id)
        .order_by(Workspace.name)
    ).all()
    return [(ws, role) for ws, role in rows]


def human_account(email: str, name: str | None, password_hash: str | None) -> User:
    """A new person's account, added to the session: named as given, else after the address
    (`email` normalised already)."""
    user = User(
        email=email,
        name=(name or "").strip() or email.split("@")[0],
        password_hash=password_hash,
        kind="human",
    )
    db.session.add(user)
    return user


def user_by_email(email: str) -> User | None:
    return db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()


def already_on_team(workspace_id: int, user_id: int) -> bool:
    return (
        db.session.execute(
            select(Membership.id).where(
                Membership.workspace_id == workspace_id, Membership.user_id == user_id
            )
        ).first()
        is not None
    )


# Two creations at the same moment (signups, `deskwoot workspace create`) can both find the
# slug, or the admin's email, free; the unique index stops the second, which is told plainly.
_CREATE_RACES = (
    Taken(
        "uq_workspaces_slug",
        "Another workspace with that name was created at the same moment. Try again.",
        field="workspace_name",
    ),
    Taken(
        "uq_users_email",
        "An account with that email was created at the same moment. Try again.",
        field="email",
    ),
)


def _added_twice(email: str) -> tuple[Taken, ...]:
    # The same address added twice at once: users.email or the membership index decides.
    message = f"{email} was just added by someone else."
    return (
        Taken("uq_users_email", message, field="email"),
        Taken("uq_memberships_workspace_id_user_id", message, field="email"),
    )


def create_workspace(
    name: str,
    admin_email: str,
    admin_password: str | None,
    admin_name: str | None = None,
    plan: str = "trial",
    slug: str | None = None,
) -> tuple[Workspace, User]:
    """Create a workspace on the 7-day Enterprise trial (or `plan`) and its first admin."""
    name = (name or "").strip()
    if not name:
        raise Invalid("Give the workspace a name.", field="workspace_name")
    if len(name) > 120:
        raise Invalid("Keep the workspace name under 120 characters.", field="workspace_name")
    if plan not in PLANS:
        raise Invalid(f"Plan must be one of: {', '.join(PLANS)}.", field="plan")
    email = normalize_email(admin_email)
    password_hash = hash_password(admin_password) if admin_password else None
    with write_transaction(taken=_CREATE_RACES) as session:
        user = user_by_email(email)
        if user is not None and admin_password is not None:
            # Someone signing up with an address that already has an account must log in.
            raise Conflict("An account with that email already exists. Log in instead.")
        if user is None:
            user = human_account(email, admin_name, password_hash)
        now = utcnow()
        ws = Workspace(
            name=name,
            slug=_unique_slug(slugify(slug or name)),
            plan=plan,
            trial_ends_at=now + timedelta(days=current_app.config["TRIAL_DAYS"]),
            created_at=now,
            next_display_id=1,
            mcp_enabled=False,
        )
        session.add(ws)
        session.flush()
        session.add(Membership(workspace_id=ws.id, user_id=user.id, role="admin"))
        audit.record(
            Actor(workspace_id=ws.id, user_id=user.id, kind="human", name=user.name, role="admin"),
            "workspace.created",
            target=ws.slug,
            detail=f"plan={plan}",
        )
    return ws, user


def signup(workspace_name: str, name: str, email: str, password: str) -> tuple[Workspace, User]:
    """Self-service signup: a new workspace on the Enterprise trial and its first admin."""
    if not password:
        raise Invalid("Choose a password.", field="password")
    return create_workspace(workspace_name, email, password, admin_name=name)


def add_teammate(
    actor: Actor,
    email: str,
    role: str,
    name: str | None = None,
    password: str | None = None,
    inbox_ids: list[int] | None = None,
) -> User:
    """Put a person on the team at once, without an invitation: the operator's CLI
    (`deskwoot user add --password`) and the demo seed only.

    Admins invite instead (services/directory/invitations.py): accounts are shared across
    workspaces, and an admin who could create one with a password of their choosing, or attach
    whichever account has an address, could pre-register someone else's login. A password is
    only set on an account created here; an existing account is never given a new one.
    """
    policy.require_operator(actor)
    if role not in ROLES:
        raise Invalid(f"Role must be one of: {', '.join(ROLES)}.", field="role")
    email = normalize_email(email)
    password_hash = hash_password(password) if password else None
    with write_transaction(taken=_added_twice(email)) as session:
        user = user_by_email(email)
        if user is None:
            user = human_account(email, name, password_hash)
            session.flush()
        elif user.kind != "human":
            raise Conflict("That address belongs to a bot account.", field="email")
        elif password is not None:
            raise Conflict(
                f"{email} already has a Deskwoot account with its own password; "
                "invite them instead (leave the password out).",
                field="email",
            )
        if already_on_team(actor.workspace_id, user.id):
            raise Conflict(f"{email} is already on this team.", field="email")
        session.add(Membership(workspace_id=actor.workspace_id, user_id=user.id, role=role))
        for inbox_id in inbox_ids or []:
            policy.get_inbox(actor, inbox_id)
            session.add(InboxMember(inbox_id=inbox_id, user_id=user.id))
        session.flush()  # a twin added at the same moment fails here, on a unique index
        audit.record(actor, "team.member_added", target=email, detail=f"role={role}")
    return user


def member_by_email(actor: Actor, email: str) -> User:
    """A teammate of the actor's workspace by email; NotFound otherwise."""
    policy.require_admin(actor)
    user = user_by_email(normalize_email(email))
    if user is None or not already_on_team(actor.workspace_id, user.id):
        raise NotFound(f"{email.strip()} is not on this team.")
    return user


def set_role(actor: Actor, user_id: int, role: str) -> None:
    """Change a teammate's role; the last admin cannot be demoted."""
    policy.require_admin(actor)
    if role not in ROLES:
        raise Invalid(f"Role must be one of: {', '.join(ROLES)}.", field="role")
    with write_transaction():
        _lock_admins(actor)
        membership = _membership(actor, user_id)
        if membership.role == "admin" and role != "admin" and _admin_count(actor) <= 1:
            raise Conflict(LAST_ADMIN)
        membership.role = role
        audit.record(actor, "team.role_changed", target=str(user_id), detail=f"role={role}")


def remove_teammate(actor: Actor, user_id: int) -> None:
    """Take a person off the team (their messages stay, attributed to them)."""
    policy.require_admin(actor)
    with write_transaction() as session:
        _lock_admins(actor)
        membership = _membership(actor, user_id)
        if membership.role == "admin" and _admin_count(actor) <= 1:
            raise Conflict(LAST_ADMIN)
        inbox_ids = select(Inbox.id).where(Inbox.workspace_id == actor.workspace_id)
        session.execute(
            InboxMember.__table__.delete().where(
                InboxMember.user_id == user_id, InboxMember.inbox_id.in_(inbox_ids)
            )
        )
        session.delete(membership)
        audit.record(actor, "team.member_removed", target=str(user_id))


def _lock_admins(actor: Actor) -> None:
    """Serialise every change that can take away an admin, per workspace.

    Two admins demoting (or removing) each other at once would each count two admins and
    both succeed, leaving none. On PostgreSQL the workspace row lock makes the second wait
    until the first commits and then count again; SQLite's BEGIN IMMEDIATE already lets one
    writer in at a time (and SQLAlchemy leaves FOR UPDATE out there).
    """
    db.session.execute(
        select(Workspace.id).where(Workspace.id == actor.workspace_id).with_for_update()
    )


def password_link(actor: Actor, user_id: int) -> str:
    """Issue a one-time set-password token for a teammate who has never set a password.

    Accounts are shared across workspaces, so a link for someone who already has a password,
    or who also belongs to another workspace, would let this workspace's admins take over
    that account; those cases are refused.
    """
    policy.require_admin(actor)
    user = _membership(actor, user_id).user
    if user.password_hash is not None:
        raise Conflict(f"{user.name} has already set a password.")
    elsewhere = db.session.execute(
        select(func.count()).where(
            Membership.user_id == user.id, Membership.workspace_id != actor.workspace_id
        )
    ).scalar_one()
    if elsewhere:
        raise Conflict(
            f"{user.name} also belongs to another workspace; ask them to use the link "
            "they were sent there."
        )
    with write_transaction():
        raw = auth_service.create_password_link(user)
        audit.record(actor, "team.password_link_created", target=user.email)
    return raw


def _membership(actor: Actor, user_id: int) -> Membership:
    membership = db.session.execute(
        select(Membership).where(
            Membership.workspace_id == actor.workspace_id, Membership.user_id == user_id
        )
    ).scalar_one_or_none()
    if membership is None:
        raise NotFound("No such teammate.")
    return membership


def _admin_count(actor: Actor) -> int:
    return db.session.execute(
        select(func.count()).where(
            Membership.workspace_id == actor.workspace_id, Membership.role == "admin"
        )
    ).scalar_one()


def team(actor: Actor) -> list[tuple[User, str]]:
    rows = db.session.execute(
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.workspace_id == actor.workspace_id, User.kind == "human")
        .order_by(User.name)
    ).all()
    return [(u, r) for u, r in rows]


def team_with_inboxes(actor: Actor) -> list[tuple[User, str, list[int] | None]]:
    """Teammates, their role, and which of the actor's inboxes they work (None: all, admins)."""
    visible = {i.id for i in db.session.execute(policy.inboxes(actor)).scalars()}
    works: dict[int, list[int]] = {}
    for user_id, inbox_id in db.session.execute(
        select(InboxMember.user_id, InboxMember.inbox_id).where(InboxMember.inbox_id.in_(visible))
    ):
        works.setdefault(user_id, []).append(inbox_id)
    return [
        (user, role, None if role == "admin" else sorted(works.get(user.id, [])))
        for user, role in team(actor)
        if user.is_active
    ]


def set_plan(actor: Actor, plan: str) -> Workspace:
    """Change the workspace's plan (operator only; there is no payment processing)."""
    policy.require_admin(actor)
    if plan not in PLANS:
        raise Invalid(f"Plan must be one of: {', '.join(PLANS)}.", field="plan")
    with write_transaction() as session:
        ws = session.get(Workspace, actor.workspace_id)
        old = ws.plan
        ws.plan = plan
        audit.record(actor, "plan.changed", target=ws.slug, detail=f"{old} -> {plan}")
    return ws


def set_trial_end(actor: Actor, ends_at: datetime) -> Workspace:
    """Move the trial's end (operator only), e.g. to extend an evaluation."""
    policy.require_admin(actor)
    if ends_at.tzinfo is None:
        raise Invalid("Give the time with a timezone, e.g. 2026-12-01T00:00:00Z.", field="ends_at")
    with write_transaction() as session:
        ws = session.get(Workspace, actor.workspace_id)
        ws.trial_ends_at = ends_at
        audit.record(actor, "trial.changed", target=ws.slug, detail=ends_at.isoformat())
    return ws


def trial_days_left(ws: Workspace, now: datetime | None = None) -> int:
    if ws.trial_ends_at is None:
        return 0
    seconds = (ws.trial_ends_at - (now or utcnow())).total_seconds()
    return max(0, int(-(-seconds // 86400)))
