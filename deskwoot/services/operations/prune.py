"""Housekeeping: delete rows whose retention has passed (`deskwoot prune`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_

from deskwoot.database import batches
from deskwoot.errors import Invalid
from deskwoot.models import (
    Event,
    IdempotencyKey,
    LoginThrottle,
    Outbox,
    PasswordToken,
    WebSession,
    utcnow,
)
from deskwoot.oauth import pruning as oauth_pruning
from deskwoot.oauth.pruning import OAuthPruneResult

ENDED_SESSION_DAYS = 30
# auth._record_failure forgets failures after an hour; a day without one is safely stale.
THROTTLE_STALE = timedelta(days=1)
# Delete in slices so a big prune never holds SQLite's write lock long enough to make a
# web worker's write wait out busy_timeout.
BATCH = 5_000


@dataclass(frozen=True)
class PruneResult:
    """How many rows of each kind were (or, in a dry run, would be) deleted."""

    idempotency_keys: int
    events: int
    web_sessions: int
    password_tokens: int
    login_throttles: int
    webhook_deliveries: int
    oauth: OAuthPruneResult
    dry_run: bool

    def counts(self) -> dict[str, int]:
        return {
            "idempotency keys": self.idempotency_keys,
            "events": self.events,
            "ended or idle web sessions": self.web_sessions,
            "password links": self.password_tokens,
            "login throttle rows": self.login_throttles,
            "finished webhook deliveries": self.webhook_deliveries,
            **self.oauth.counts(),
        }


def prune(
    events_older_than_days: int | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> PruneResult:
    """Delete expired idempotency keys, old events, ended sessions, spent links, stale
    throttles, old lines of the event webhooks' delivery logs, and dead OAuth rows
    (oauth/pruning.py, which the delivery worker also runs)."""
    config = current_app.config
    days = events_older_than_days
    if days is None:
        days = config["EVENT_RETENTION_DAYS"]
    if days < 1:
        raise Invalid("Keep at least one day of events.", field="events_older_than_days")
    now = now or utcnow()
    idempotency_cutoff = now - timedelta(hours=config["IDEMPOTENCY_RETENTION_HOURS"])
    webhook_cutoff = now - timedelta(days=config["WEBHOOK_LOG_RETENTION_DAYS"])
    targets = {
        "idempotency_keys": (IdempotencyKey, IdempotencyKey.created_at < idempotency_cutoff),
        "events": (Event, Event.created_at < now - timedelta(days=days)),
        "web_sessions": (
            WebSession,
            # Ended a while ago, or idle so long that it can never be used again.
            or_(
                WebSession.ended_at < now - timedelta(days=ENDED_SESSION_DAYS),
                WebSession.last_seen_at
                < now - timedelta(days=config["SESSION_IDLE_DAYS"] + ENDED_SESSION_DAYS),
            ),
        ),
        "password_tokens": (
            PasswordToken,
            or_(PasswordToken.expires_at < now, PasswordToken.used_at.is_not(None)),
        ),
        "login_throttles": (
            LoginThrottle,
            (LoginThrottle.last_failure_at < now - THROTTLE_STALE)
            & or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until < now),
        ),
        # Finished event-webhook deliveries (a pending one is still owed to its receiver).
        "webhook_deliveries": (
            Outbox,
            (Outbox.endpoint_id.is_not(None))
            & (Outbox.status != "pending")
            & (Outbox.created_at < webhook_cutoff),
        ),
    }
    counts = {
        name: batches.count(model, where)
        if dry_run
        else batches.delete_in_batches(model, where, BATCH)
        for name, (model, where) in targets.items()
    }
    oauth = oauth_pruning.prune(dry_run=dry_run, now=now)
    return PruneResult(**counts, oauth=oauth, dry_run=dry_run)
