"""Inboxes: the channels conversations arrive on, and who works them."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select

from deskwoot import policy
from deskwoot.database.transactions import Taken, write_transaction
from deskwoot.errors import Conflict, Invalid, NotFound
from deskwoot.extensions import db
from deskwoot.models import Inbox, InboxMember
from deskwoot.models.workspace import CHANNELS
from deskwoot.policy import Actor
from deskwoot.services.access import sealed
from deskwoot.services.access.random_secrets import digest, matches, new_secret
from deskwoot.services.activity import audit_recorder as audit


def list_inboxes(actor: Actor) -> list[Inbox]:
    return list(db.session.execute(policy.inboxes(actor).order_by(Inbox.name)).scalars())


def create_inbox(
    actor: Actor,
    name: str,
    channel: str = "api",
    member_ids: list[int] | None = None,
    webhook_url: str | None = None,
) -> tuple[Inbox, str]:
    """Create an inbox; returns it with its inbound secret, which is never shown again.

    An API inbox given a `webhook_url` gets a Standard Webhooks signing secret too
    (`webhook_secret_of(inbox)`, for the caller to show once): replies are POSTed there
    (channels/api_webhook.py)."""
    policy.require_admin(actor)
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise Invalid("Give the inbox a name of up to 120 characters.", field="name")
    if channel not in CHANNELS:
        raise Invalid(f"Channel must be one of: {', '.join(CHANNELS)}.", field="channel")
    webhook_url = check_webhook_url(webhook_url, channel)
    secret = new_secret("dw_in_")
    duplicate = f"There is already an inbox called '{name}'."
    # The check below, backed by the unique index when two admins add it at the same moment.
    same_name = Taken("uq_inboxes_workspace_id_name", duplicate, field="name")
    with write_transaction(taken=[same_name]) as session:
        if session.execute(
            select(Inbox.id).where(
                Inbox.workspace_id == actor.workspace_id, func.lower(Inbox.name) == name.lower()
            )
        ).first():
            raise Conflict(duplicate, field="name")
        inbox = Inbox(
            workspace_id=actor.workspace_id,
            uid=secrets.token_hex(12),
            name=name,
            channel=channel,
            secret_hash=digest(secret),
            secret_last4=secret[-4:],
            webhook_url=webhook_url,
            webhook_secret=sealed.seal(new_webhook_secret()) if webhook_url else None,
        )
        session.add(inbox)
        session.flush()
        for user_id in member_ids or []:
            policy.get_teammate(actor, user_id)
            session.add(InboxMember(inbox_id=inbox.id, user_id=user_id))
        audit.record(actor, "inbox.created", target=name, detail=f"channel={channel}")
    return inbox, secret


def check_webhook_url(url: str | None, channel: str) -> str | None:
    """A webhook URL as stored: http(s) with a host, at most 2000 characters; None for none."""
    url = (url or "").strip()
    if not url:
        return None
    if channel != "api":
        raise Invalid("Only API inboxes deliver to a webhook.", field="webhook_url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise Invalid(
            "The webhook URL must be an http:// or https:// address.", field="webhook_url"
        )
    return url


def webhook_secret_of(inbox: Inbox) -> str | None:
    """The inbox's webhook signing secret in the clear (stored sealed: access/sealed.py)."""
    return sealed.unseal(inbox.webhook_secret)


@dataclass(frozen=True)
class EmailSettings:
    """An email inbox's delivery settings in the clear, for the worker and the test buttons.
    Never rendered: Settings shows `masked_url` of each URL."""

    address: str | None
    smtp_url: str | None
    imap_url: str | None


def email_settings(inbox: Inbox) -> EmailSettings:
    return EmailSettings(
        inbox.email_address, sealed.unseal(inbox.smtp_url), sealed.unseal(inbox.imap_url)
    )


def masked_url(url: str | None) -> str | None:
    """A URL as Settings may show it: the password replaced by '••••'."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":••••@", 1)
    return parts._replace(netloc=netloc).geturl()


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: "whsec_" and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def set_members(actor: Actor, inbox_id: int, member_ids: list[int]) -> Inbox:
    """Replace who works an inbox."""
    policy.require_admin(actor)
    with write_transaction() as session:
        inbox = policy.get_inbox(actor, inbox_id)
        for user_id in member_ids:
            policy.get_teammate(actor, user_id)
        session.execute(delete(InboxMember).where(InboxMember.inbox_id == inbox.id))
        for user_id in sorted(set(member_ids)):
            session.add(InboxMember(inbox_id=inbox.id, user_id=user_id))
        audit.record(actor, "inbox.members_changed", target=inbox.name)
    session.refresh(inbox)
    return inbox


def rotate_secret(actor: Actor, inbox_id: int) -> tuple[Inbox, str]:
    """Issue a new inbound secret; the old one stops working at once."""
    policy.require_admin(actor)
    secret = new_secret("dw_in_")
    with write_transaction():
        inbox = policy.get_inbox(actor, inbox_id)
        inbox.secret_hash = digest(secret)
        inbox.secret_last4 = secret[-4:]
        audit.record(actor, "inbox.secret_rotated", target=inbox.name)
    return inbox, secret


def authenticate_inbound(uid: str, secret: str | None) -> Inbox:
    """Find the inbox for a hook call; NotFound for an unknown uid, Forbidden-ish via None."""
    if "\x00" in uid:  # no uid has one, and PostgreSQL refuses NUL in a query parameter
        raise NotFound("No such inbox.")
    inbox = db.session.execute(select(Inbox).where(Inbox.uid == uid)).scalar_one_or_none()
    if inbox is None:
        raise NotFound("No such inbox.")
    if not secret or not matches(secret, inbox.secret_hash):
        raise PermissionError("bad inbound secret")
    return inbox


def inbound_url(public_url: str, inbox: Inbox) -> str:
    return f"{public_url}/hooks/inbound/{inbox.uid}"
