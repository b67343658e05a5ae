"""Plain factory functions for tests: make_workspace(...), make_user(...), and friends.

They write rows directly (fast, no argon2 per user) except where a service is the point.
"""

from __future__ import annotations

import itertools
import secrets
from datetime import timedelta

from deskwoot.extensions import db
from deskwoot.models import (
    Contact,
    Conversation,
    Inbox,
    InboxMember,
    Label,
    Membership,
    User,
    Workspace,
    utcnow,
)
from deskwoot.policy import Actor, member_actor
from deskwoot.services.access.random_secrets import digest
from deskwoot.services.conversations import inbound as inbound_service

PASSWORD = "correct horse battery"
# One argon2id hash of PASSWORD, computed once: hashing per test user would dominate runtime.
_password_hash: str | None = None
_seq = itertools.count(1)


def password_hash() -> str:
    global _password_hash
    if _password_hash is None:
        from deskwoot.services.access.password_hashing import hash_password

        _password_hash = hash_password(PASSWORD)
    return _password_hash


def make_workspace(name: str | None = None, plan: str = "trial", **fields) -> Workspace:
    n = next(_seq)
    ws = Workspace(
        name=name or f"Workspace {n}",
        slug=fields.pop("slug", None) or f"ws-{n}-{secrets.token_hex(2)}",
        plan=plan,
        trial_ends_at=fields.pop("trial_ends_at", utcnow() + timedelta(days=7)),
        next_display_id=1,
        mcp_enabled=fields.pop("mcp_enabled", False),
        **fields,
    )
    db.session.add(ws)
    db.session.commit()
    return ws


def make_user(
    workspace: Workspace | None = None,
    role: str = "agent",
    inboxes: list[Inbox] = (),
    email: str | None = None,
    name: str | None = None,
) -> User:
    n = next(_seq)
    user = User(
        email=email or f"person{n}@example.test",
        name=name or f"Person {n}",
        password_hash=password_hash(),
        kind="human",
    )
    db.session.add(user)
    db.session.flush()
    if workspace is not None:
        db.session.add(Membership(workspace_id=workspace.id, user_id=user.id, role=role))
        for inbox in inboxes:
            db.session.add(InboxMember(inbox_id=inbox.id, user_id=user.id))
    db.session.commit()
    return user


def make_inbox(
    workspace: Workspace,
    name: str | None = None,
    secret: str = "dw_in_test",
    members: list[User] = (),
) -> Inbox:
    n = next(_seq)
    inbox = Inbox(
        workspace_id=workspace.id,
        uid=secrets.token_hex(12),
        name=name or f"Inbox {n}",
        channel="api",
        secret_hash=digest(secret),
        secret_last4=secret[-4:],
    )
    db.session.add(inbox)
    db.session.flush()
    for user in members:
        db.session.add(InboxMember(inbox_id=inbox.id, user_id=user.id))
    db.session.commit()
    return inbox


def make_contact(
    workspace: Workspace,
    name: str | None = None,
    email: str | None = None,
    created_via: str = "inbound",
    **fields,
) -> Contact:
    n = next(_seq)
    contact = Contact(
        workspace_id=workspace.id,
        name=name or f"Customer {n}",
        email=email if email is not None else f"customer{n}@example.test",
        created_via=created_via,
        custom_attributes=fields.pop("custom_attributes", {}),
        **fields,
    )
    db.session.add(contact)
    db.session.commit()
    return contact


def make_conversation(
    inbox: Inbox,
    contact: Contact | None = None,
    content: str = "Hello, I need help with my order.",
    subject: str | None = None,
) -> Conversation:
    """A conversation with one incoming customer message, made through the inbound service."""
    ws = db.session.get(Workspace, inbox.workspace_id)
    contact = contact or make_contact(ws)
    result = inbound_service.receive_inbound(
        inbox,
        {"email": contact.email, "name": contact.name},
        content,
        subject=subject,
    )
    return result.conversation


def make_label(workspace: Workspace, name: str, color: str = "#2563eb") -> Label:
    label = Label(workspace_id=workspace.id, name=name, color=color)
    db.session.add(label)
    db.session.commit()
    return label


def actor_for(user: User, workspace: Workspace) -> Actor:
    return member_actor(user, workspace)


def bot_actor(workspace: Workspace, scopes=None, inbox_ids=None, token_id=None) -> Actor:
    """An MCP-style actor for service tests (the MCP layer builds these from tokens)."""
    from deskwoot.policy import SCOPES

    bot = User(email=f"bot-{secrets.token_hex(4)}@bots.deskwoot.invalid", name="Bot", kind="bot")
    db.session.add(bot)
    db.session.commit()
    return Actor(
        workspace_id=workspace.id,
        user_id=bot.id,
        kind="bot",
        name="Test bot",
        scopes=frozenset(SCOPES if scopes is None else scopes),
        inbox_ids=None if inbox_ids is None else frozenset(inbox_ids),
        via="mcp",
        token_id=token_id,
    )
