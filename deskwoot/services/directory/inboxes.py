"""Inboxes: the channels conversations arrive on, who works them, and how replies leave
(an email inbox's address and SMTP/IMAP servers, an API inbox's webhook; ARCHITECTURE §12).

Mail server URLs and webhook signing secrets are sealed at rest (access/sealed.py) and never
shown back in full: Settings and the CLI show `masked_url`, the audit trail says only which
setting changed.
"""

from __future__ import annotations

import base64
import enum
import re
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
from deskwoot.services.directory.mail_urls import (
    IMAP_SCHEMES,
    SMTP_SCHEMES,
    BadServerUrl,
    parse_url,
)
from deskwoot.services.directory.workspaces import normalize_email


class _Keep(enum.Enum):
    KEEP = "keep"


# `configure_email(..., smtp_url=KEEP)` leaves the stored value as it is: a settings form
# leaves its password-bearing fields empty, and "" means "clear it".
KEEP = _Keep.KEEP


def list_inboxes(actor: Actor) -> list[Inbox]:
    return list(db.session.execute(policy.inboxes(actor).order_by(Inbox.name)).scalars())


def create_inbox(
    actor: Actor,
    name: str,
    channel: str = "api",
    member_ids: list[int] | None = None,
    webhook_url: str | None = None,
    *,
    email_address: str | None = None,
    smtp_url: str | None = None,
    imap_url: str | None = None,
) -> tuple[Inbox, str]:
    """Create an inbox; returns it with its inbound secret, which is never shown again.

    An API inbox given a `webhook_url` gets a Standard Webhooks signing secret too
    (`webhook_secret_of(inbox)`, for the caller to show once): replies are POSTed there
    (channels/api_webhook.py). An email inbox may get its address and servers at once
    (checked as `configure_email` checks them) or later."""
    policy.require_admin(actor)
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise Invalid("Give the inbox a name of up to 120 characters.", field="name")
    if channel not in CHANNELS:
        raise Invalid(f"Channel must be one of: {', '.join(CHANNELS)}.", field="channel")
    webhook_url = check_webhook_url(webhook_url, channel)
    mail = _checked_email(channel, email_address, smtp_url, imap_url)
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
            email_address=mail.address,
            smtp_url=sealed.seal(mail.smtp_url),
            imap_url=sealed.seal(mail.imap_url),
        )
        session.add(inbox)
        session.flush()
        for user_id in member_ids or []:
            policy.get_teammate(actor, user_id)
            session.add(InboxMember(inbox_id=inbox.id, user_id=user_id))
        configured = [
            label
            for label, value in (
                ("address", mail.address),
                ("smtp_url", mail.smtp_url),
                ("imap_url", mail.imap_url),
                ("webhook_url", webhook_url),
            )
            if value
        ]
        detail = f"channel={channel}" + (f"; {', '.join(configured)} set" if configured else "")
        audit.record(actor, "inbox.created", target=name, detail=detail)
    return inbox, secret


def get_inbox(actor: Actor, inbox_id: int) -> Inbox:
    """One inbox of the workspace, for its settings page (admins only)."""
    policy.require_admin(actor)
    return policy.get_inbox(actor, inbox_id)


# --- email settings ---------------------------------------------------------------------------

# The address mail is sent From and customers write to: one plain ASCII address (the local
# part must be ASCII to need no SMTPUTF8; a name or a list is not an address).
_ADDRESS_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_ADDRESS_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")


def check_address(value: str | None) -> str | None:
    """An inbox's email address as stored (lower-cased), or None for none."""
    if not (value or "").strip():
        return None
    address = normalize_email(value, field="address")
    local, _, domain = address.rpartition("@")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        domain = ""
    if not _ADDRESS_LOCAL.match(local) or not _ADDRESS_DOMAIN.match(domain):
        raise Invalid(
            "Enter one plain email address, such as support@example.com.", field="address"
        )
    return f"{local}@{domain}"


def check_server_url(value: str | None, schemes: tuple[str, ...]) -> str | None:
    """A mail server URL as the admin typed it (trimmed) once it parses, or None for none."""
    value = (value or "").strip()
    if not value:
        return None
    field = "smtp_url" if schemes == SMTP_SCHEMES else "imap_url"
    try:
        parse_url(value, schemes)
    except BadServerUrl as exc:
        raise Invalid(str(exc), field=field) from None
    return value


def _checked_email(channel: str, address, smtp_url, imap_url) -> EmailSettings:
    """The new email settings of a new inbox, checked (the URLs still in the clear)."""
    if channel != "email":
        for label, value in (("address", address), ("smtp_url", smtp_url), ("imap_url", imap_url)):
            if (value or "").strip():
                raise Invalid("Only email inboxes have mail settings.", field=label)
        return EmailSettings(None, None, None)
    settings = EmailSettings(
        check_address(address),
        check_server_url(smtp_url, SMTP_SCHEMES),
        check_server_url(imap_url, IMAP_SCHEMES),
    )
    _check_complete(settings)
    return settings


def _check_complete(settings: EmailSettings) -> None:
    if (settings.smtp_url or settings.imap_url) and not settings.address:
        raise Invalid(
            "Enter the inbox's email address: replies are sent from it and customers write to it.",
            field="address",
        )


def _stored_or_none(stored: str | None) -> str | None:
    """The clear value of a sealed column, or None when this SECRET_KEY cannot open it
    (then any new value counts as a change)."""
    try:
        return sealed.unseal(stored)
    except sealed.SealBroken:
        return None


def configure_email(
    actor: Actor,
    inbox_id: int,
    *,
    address: str | _Keep | None = KEEP,
    smtp_url: str | _Keep | None = KEEP,
    imap_url: str | _Keep | None = KEEP,
) -> tuple[Inbox, list[str]]:
    """Change an email inbox's address and servers; returns the inbox and what changed
    ("smtp_url changed", "imap_url cleared", …; empty when nothing did).

    KEEP keeps a stored value, "" or None clears it. URLs are checked with the same parser
    the worker uses and sealed before they are stored. A different IMAP URL is a different
    mailbox, so the poller's place in the old one (UIDVALIDITY, last UID, last poll, lease)
    is forgotten. Audited with what changed, never the values."""
    policy.require_admin(actor)
    with write_transaction():
        inbox = policy.get_inbox(actor, inbox_id)
        if inbox.channel != "email":
            raise Invalid("Only email inboxes have mail settings.", field="address")
        current = EmailSettings(
            inbox.email_address, _stored_or_none(inbox.smtp_url), _stored_or_none(inbox.imap_url)
        )
        wanted = EmailSettings(
            current.address if address is KEEP else check_address(address),
            current.smtp_url if smtp_url is KEEP else check_server_url(smtp_url, SMTP_SCHEMES),
            current.imap_url if imap_url is KEEP else check_server_url(imap_url, IMAP_SCHEMES),
        )
        _check_complete(wanted)
        changes = []
        if wanted.address != current.address:
            inbox.email_address = wanted.address
            changes.append(f"address {'changed' if wanted.address else 'cleared'}")
        for label, given in (("smtp_url", smtp_url), ("imap_url", imap_url)):
            new, old, stored = (
                getattr(wanted, label),
                getattr(current, label),
                getattr(inbox, label),
            )
            # Unchanged: the same URL, and the stored one readable (one this SECRET_KEY cannot
            # open is replaced even by "the same" text).
            if given is KEEP or (new == old and (stored is None) == (old is None)):
                continue
            setattr(inbox, label, sealed.seal(new))
            changes.append(f"{label} {'changed' if new else 'cleared'}")
            if label == "imap_url":
                _forget_mailbox(inbox)
        if changes:
            audit.record(actor, "inbox.email_changed", target=inbox.name, detail=", ".join(changes))
    return inbox, changes


def _forget_mailbox(inbox: Inbox) -> None:
    """A new IMAP URL is another mailbox: start afresh there. The poller's lease goes too, so
    a poll of the old mailbox still under way can record nothing (its writes are conditioned
    on holding the lease) and the new one is polled first (never checked)."""
    inbox.imap_uidvalidity = None
    inbox.imap_last_uid = None
    inbox.imap_error = None
    inbox.imap_checked_at = None
    inbox.imap_claimed_by = None
    inbox.imap_claimed_until = None


@dataclass(frozen=True)
class ShownEmailSettings:
    """An email inbox's settings as Settings and the CLI may show them: URLs masked, and
    which stored ones this SECRET_KEY cannot open (to be entered again)."""

    address: str | None
    smtp_url: str | None
    imap_url: str | None
    unreadable: tuple[str, ...]


def shown_email_settings(inbox: Inbox) -> ShownEmailSettings:
    shown, unreadable = {}, []
    for label, stored in (("smtp_url", inbox.smtp_url), ("imap_url", inbox.imap_url)):
        try:
            shown[label] = masked_url(sealed.unseal(stored))
        except sealed.SealBroken:
            shown[label], unreadable = None, [*unreadable, label]
    return ShownEmailSettings(
        inbox.email_address, shown["smtp_url"], shown["imap_url"], tuple(unreadable)
    )


def settings_to_test(actor: Actor, inbox_id: int) -> tuple[Inbox, EmailSettings]:
    """An email inbox and its saved settings in the clear, for the "send a test" and "check
    mailbox" buttons (admins only). Invalid when they cannot be read back."""
    inbox = get_inbox(actor, inbox_id)
    if inbox.channel != "email":
        raise Invalid("Only email inboxes have mail settings to test.")
    try:
        return inbox, email_settings(inbox)
    except sealed.SealBroken as exc:
        raise Invalid(str(exc)) from None


# --- webhooks -------------------------------------------------------------------------------


def configure_webhook(actor: Actor, inbox_id: int, url: str | None) -> str | None:
    """Set, change or (with "" / None) clear an API inbox's webhook URL.

    Returns a new signing secret, for the caller to show once, when the inbox had none:
    setting the first webhook issues one, changing the URL keeps it (receivers keep
    verifying), clearing the webhook drops it (no webhook, nothing to sign)."""
    policy.require_admin(actor)
    issued = None
    with write_transaction():
        inbox = policy.get_inbox(actor, inbox_id)
        if inbox.channel != "api":
            raise Invalid("Only API inboxes deliver to a webhook.", field="webhook_url")
        url = check_webhook_url(url, inbox.channel)
        if url == inbox.webhook_url:
            return None
        if url is None:
            detail = "webhook_url cleared, signing secret dropped"
            inbox.webhook_secret = None
        elif inbox.webhook_secret is None:
            issued = new_webhook_secret()
            inbox.webhook_secret = sealed.seal(issued)
            detail = f"webhook_url set (host {urlsplit(url).hostname}), signing secret issued"
        else:
            detail = f"webhook_url changed (host {urlsplit(url).hostname})"
        inbox.webhook_url = url
        audit.record(actor, "inbox.webhook_changed", target=inbox.name, detail=detail)
    return issued


def rotate_webhook_secret(actor: Actor, inbox_id: int) -> str:
    """Issue a new webhook signing secret (for the caller to show once); deliveries from now
    on are signed with it only."""
    policy.require_admin(actor)
    secret = new_webhook_secret()
    with write_transaction():
        inbox = policy.get_inbox(actor, inbox_id)
        if inbox.channel != "api" or not inbox.webhook_url:
            raise Conflict("This inbox has no webhook: set a webhook URL first.")
        inbox.webhook_secret = sealed.seal(secret)
        audit.record(actor, "inbox.webhook_secret_rotated", target=inbox.name)
    return secret


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
