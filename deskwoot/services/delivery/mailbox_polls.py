"""IMAP polling state: which email inboxes are due, a lease per mailbox, and what a poll left.

The worker (deskwoot/delivery/mailboxes.py) polls each email inbox with an IMAP URL every
IMAP_POLL_INTERVAL seconds. A mailbox is leased like an outbox row (services/conversations/
leases.py: FOR UPDATE SKIP LOCKED on PostgreSQL, SQLite's single write lock otherwise), so two
workers never poll one mailbox at once; a worker that dies lets its lease run out. The
poller advances `imap_last_uid` after every message it took (a crash re-reads at most one,
which the Message-ID dedupe absorbs) and renews the lease as it goes; `finish` records how the poll
went (`imap_checked_at`, `imap_error`) for Settings and gives the lease back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update

from deskwoot.database.transactions import write_transaction
from deskwoot.extensions import db
from deskwoot.models import Inbox, utcnow
from deskwoot.services.delivery import leases
from deskwoot.services.directory import inboxes

MAX_ERROR_CHARS = 1000


@dataclass(frozen=True)
class Mailbox:
    """One leased mailbox with what the poller needs."""

    inbox: Inbox
    imap_url: str  # in the clear (sealed at rest): never logged or shown
    uidvalidity: int | None
    last_uid: int


def _lease(claimed_by: str, lease: float, *conditions) -> list[int]:
    now = utcnow()
    free = (
        select(Inbox.id)
        .where(
            Inbox.channel == "email",
            Inbox.imap_url.is_not(None),
            or_(Inbox.imap_claimed_until.is_(None), Inbox.imap_claimed_until < now),
            *conditions,
        )
        .order_by(Inbox.imap_checked_at.is_not(None), Inbox.imap_checked_at, Inbox.id)
        .limit(20)
    )
    until = now + timedelta(seconds=lease)
    return leases.lease(Inbox, free, {"imap_claimed_by": claimed_by, "imap_claimed_until": until})


def claim_due(claimed_by: str, interval: float, lease: float) -> list[int]:
    """Lease the email inboxes whose mailbox was last checked more than `interval` seconds
    ago (or never) and that no other poller holds; their ids."""
    since = utcnow() - timedelta(seconds=interval)
    return _lease(
        claimed_by,
        lease,
        or_(Inbox.imap_checked_at.is_(None), Inbox.imap_checked_at <= since),
    )


def claim(inbox_id: int, claimed_by: str, lease: float) -> bool:
    """Lease one mailbox now, due or not (`deskwoot email poll`); False when another poller
    holds it or the inbox has no IMAP mailbox."""
    return bool(_lease(claimed_by, lease, Inbox.id == inbox_id))


def mailbox(inbox_id: int) -> Mailbox | None:
    """The leased mailbox's settings and state; None when the inbox is gone or has no URL."""
    db.session.expire_all()  # state written by other transactions since
    inbox = db.session.get(Inbox, inbox_id)
    if inbox is None:
        return None
    url = inboxes.email_settings(inbox).imap_url
    if not url:
        return None
    return Mailbox(inbox, url, inbox.imap_uidvalidity, inbox.imap_last_uid or 0)


def advance(inbox_id: int, claimed_by: str, uidvalidity: int, last_uid: int, lease: float) -> bool:
    """Remember that everything up to `last_uid` of mailbox generation `uidvalidity` was taken,
    and renew the lease; False (nothing written) when this poller no longer holds it."""
    now = utcnow()
    with write_transaction() as session:
        done = session.execute(
            update(Inbox)
            .where(Inbox.id == inbox_id, Inbox.imap_claimed_by == claimed_by)
            .values(
                imap_uidvalidity=uidvalidity,
                imap_last_uid=last_uid,
                imap_claimed_until=now + timedelta(seconds=lease),
            )
            .execution_options(synchronize_session=False)
        )
        return done.rowcount == 1


def finish(inbox_id: int, claimed_by: str, error: str | None) -> None:
    """Record how the poll went (None: fine) and give the lease back."""
    with write_transaction() as session:
        session.execute(
            update(Inbox)
            .where(Inbox.id == inbox_id, Inbox.imap_claimed_by == claimed_by)
            .values(
                imap_checked_at=utcnow(),
                imap_error=error[:MAX_ERROR_CHARS] if error else None,
                imap_claimed_by=None,
                imap_claimed_until=None,
            )
            .execution_options(synchronize_session=False)
        )
