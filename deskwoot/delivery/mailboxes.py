"""The worker's IMAP side: poll every email inbox's mailbox that is due (ARCHITECTURE §12).

Between delivery batches the worker calls `poll_due`: it leases the due mailboxes
(services/delivery/mailbox_polls.py), polls each (channels/email/imap_poll.py) and hands
every message to the email channel's `receive`, like the MTA pipe does. Nothing here may stop
the worker: a mailbox that cannot be reached, a hostile message or an unavailable database ends
that mailbox's poll with the reason recorded for Settings (`imap_error`), and the loop goes on.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from flask import Flask, current_app

from deskwoot.channels.email import imap_poll
from deskwoot.channels.email import inbound as email_inbound
from deskwoot.channels.email.parse import UnreadableMail
from deskwoot.extensions import db
from deskwoot.services.delivery import mailbox_polls as polls

log = logging.getLogger(__name__)

MAX_BATCHES = 20  # batches one lease takes before other mailboxes get their turn


@dataclass
class MailboxPoll:
    """What one mailbox's poll did, for `deskwoot email poll` and the log."""

    inbox_id: int
    taken: list[tuple[int, str]] = field(default_factory=list)  # (UID, what became of it)
    error: str | None = None


def poll_due(app: Flask, worker_name: str, stop: threading.Event | None = None) -> int:
    """Poll every due mailbox once; how many messages were taken. Never raises."""
    with app.app_context():
        config = current_app.config
        try:
            ids = polls.claim_due(worker_name, float(config["IMAP_POLL_INTERVAL"]), _lease(config))
        except Exception:
            log.exception("IMAP polling: could not look for due mailboxes")
            db.session.rollback()
            return 0
        taken = 0
        for index, inbox_id in enumerate(ids):
            if stop is not None and stop.is_set():
                for rest in ids[index:]:
                    _finish(rest, worker_name, None)
                break
            taken += len(poll_leased(inbox_id, worker_name, stop).taken)
        return taken


def poll_now(inbox_id: int, worker_name: str) -> MailboxPoll | None:
    """Poll one mailbox now, due or not (inside an app context); None when another poller
    holds it (or it has no IMAP URL)."""
    if not polls.claim(inbox_id, worker_name, _lease(current_app.config)):
        return None
    return poll_leased(inbox_id, worker_name)


def poll_leased(
    inbox_id: int, worker_name: str, stop: threading.Event | None = None
) -> MailboxPoll:
    """Poll a mailbox this worker has leased, then give the lease back."""
    report = MailboxPoll(inbox_id)
    try:
        _poll(report, worker_name, stop)
    except Exception as exc:  # a bug here must not stop the worker
        log.exception("IMAP polling of inbox %s", inbox_id)
        db.session.rollback()
        report.error = f"internal error: {type(exc).__name__}"
    _finish(inbox_id, worker_name, report.error)
    return report


def _poll(report: MailboxPoll, worker_name: str, stop: threading.Event | None) -> None:
    config = current_app.config
    mailbox = polls.mailbox(report.inbox_id)
    if mailbox is None:
        report.error = "the inbox has no IMAP mailbox"
        return
    inbox = mailbox.inbox
    lease = _lease(config)

    def receive(raw: bytes) -> imap_poll.Taken:
        try:
            received = email_inbound.receive(inbox, raw)
        except UnreadableMail as exc:
            log.warning("inbox %s: unreadable message skipped: %s", inbox.id, exc.reason)
            return imap_poll.Taken(f"skipped, unreadable: {exc.reason}", seen=False)
        except Exception as exc:
            db.session.rollback()
            if email_inbound.temporary_failure(exc):
                raise imap_poll.Stop(f"database unavailable: {type(exc).__name__}") from exc
            # A bug on one hostile message must not block the mailbox: skip it, unread.
            log.exception("inbox %s: message skipped", inbox.id)
            return imap_poll.Taken(f"skipped: internal error {type(exc).__name__}", seen=False)
        return imap_poll.Taken(received.line())

    def advance(uidvalidity: int, uid: int) -> None:
        if not polls.advance(inbox.id, worker_name, uidvalidity, uid, lease):
            raise imap_poll.Stop("another poller took this mailbox over (the lease ran out)")

    last_uid = mailbox.last_uid
    validity = mailbox.uidvalidity
    for _ in range(MAX_BATCHES):
        result = imap_poll.poll(
            mailbox.imap_url,
            uidvalidity=validity,
            last_uid=last_uid,
            receive=receive,
            advance=advance,
            timeout=float(config["MAIL_TIMEOUT"]),
            batch=imap_poll.BATCH,
        )
        report.taken += result.taken
        for uid, summary in result.taken:
            log.info("inbox %s, UID %s: %s", inbox.id, uid, summary)
        report.error = result.error
        validity, last_uid = result.uidvalidity, result.last_uid
        if result.error or not result.more or (stop is not None and stop.is_set()):
            break


def _finish(inbox_id: int, worker_name: str, error: str | None) -> None:
    if error:
        log.warning("IMAP polling of inbox %s stopped: %s", inbox_id, error)
    try:
        polls.finish(inbox_id, worker_name, error)
    except Exception:  # the database itself is the trouble; the lease runs out on its own
        log.exception("IMAP polling: could not record the poll of inbox %s", inbox_id)
        db.session.rollback()


def _lease(config) -> float:
    return float(config["DELIVERY_LEASE"])
