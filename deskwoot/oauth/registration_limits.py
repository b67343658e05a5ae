"""Open Dynamic Client Registration's throttle (RFC 7591 lets anyone register a client).

Two limits, each answered with 429 and Retry-After (server.py turns RegistrationThrottled
into the OAuth error body):

- at most OAUTH_REGISTRATIONS_PER_HOUR registrations per client address in an hour-long
  window that opens with the address's first registration;
- none at all while OAUTH_UNGRANTED_CLIENTS_MAX registered clients are waiting for a first
  grant (pruning.py deletes those never granted after OAUTH_UNGRANTED_CLIENT_HOURS), so a
  crowd of addresses cannot fill the table either. A client an admin approved no longer
  counts.

Both are counted in the database, so every app server (several machines on PostgreSQL) sees
the same numbers. admit() runs inside the write transaction that stores the client: a refused
registration rolls back, so it does not use up the window; the per-address count is one
atomic upsert; and on PostgreSQL the upsert of a shared row serialises registrations (READ
COMMITTED: the next one waits for the row, then counts with a fresh snapshot), so the cap
cannot be overrun by registrations racing each other. SQLite has one writer at a time anyway.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case, exists, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from deskwoot.errors import ServiceError
from deskwoot.extensions import db
from deskwoot.models import OAuthClient, OAuthGrantClient, OAuthRegistrationLimit, utcnow

WINDOW = timedelta(hours=1)
# The shared row every registration bumps: the lock that makes the cap exact on PostgreSQL.
# Not a hex digest, so no address's key can be it.
EVERYONE = "all registrations"


class RegistrationThrottled(ServiceError):
    """Too many registrations: `retry_after` seconds until one may succeed."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, retry_after=retry_after)
        self.retry_after = max(1, retry_after)


def address_key(remote_addr: str | None) -> str:
    return hashlib.sha256(f"oauth-register:{remote_addr or '-'}".encode()).hexdigest()


def admit(remote_addr: str | None, now: datetime | None = None) -> None:
    """Count one registration from `remote_addr`, or raise RegistrationThrottled. Call it
    inside the write transaction that then stores the client."""
    now = now or utcnow()
    config = current_app.config
    per_hour = int(config["OAUTH_REGISTRATIONS_PER_HOUR"])
    count, window_start = _bump(address_key(remote_addr), now)
    if count > per_hour:
        wait = window_start + WINDOW - now
        raise RegistrationThrottled(
            f"This address registered {per_hour} clients in the last hour; "
            "register again later, or reuse a client you registered.",
            _seconds(wait),
        )
    _bump(EVERYONE, now)
    cap = int(config["OAUTH_UNGRANTED_CLIENTS_MAX"])
    waiting, oldest = _ungranted_registered()
    if waiting >= cap:
        # Room is made when pruning deletes the oldest client nobody approved.
        hours = float(config["OAUTH_UNGRANTED_CLIENT_HOURS"])
        interval = float(config["OAUTH_PRUNE_INTERVAL"])
        wait = oldest + timedelta(hours=hours, seconds=interval) - now if oldest else WINDOW
        raise RegistrationThrottled(
            f"{waiting} registered clients are waiting for an administrator's approval; "
            "registration is closed until some are approved or expire.",
            _seconds(wait) if wait > timedelta(0) else 60,
        )


def _seconds(wait: timedelta) -> int:
    return max(1, math.ceil(wait.total_seconds()))


def _bump(key: str, now: datetime) -> tuple[int, datetime]:
    """Add one to `key`'s count in its window (a new window when the last one ended), in one
    atomic statement; the count and the window's start after it."""
    table = OAuthRegistrationLimit.__table__
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    ended = table.c.window_start <= now - WINDOW
    statement = (
        insert(table)
        .values(key=key, window_start=now, registrations=1)
        .on_conflict_do_update(
            index_elements=[table.c.key],
            # Every SET expression reads the row as it was: both see the same `ended`.
            set_={
                "registrations": case((ended, 1), else_=table.c.registrations + 1),
                "window_start": case(
                    (ended, literal(now, table.c.window_start.type)), else_=table.c.window_start
                ),
            },
        )
        .returning(table.c.registrations, table.c.window_start)
    )
    registrations, window_start = db.session.execute(statement).one()
    return registrations, window_start


def _ungranted_registered() -> tuple[int, datetime | None]:
    """How many registered clients have never been granted, and when the oldest came."""
    granted = exists().where(OAuthGrantClient.client_pk == OAuthClient.id)
    row = db.session.execute(
        select(func.count(), func.min(OAuthClient.created_at)).where(
            OAuthClient.source == "registered", ~granted
        )
    ).one()
    return row[0], row[1]
