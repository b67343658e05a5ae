"""Pruning OAuth rows that can never be used again (`deskwoot prune`, and the delivery worker
every OAUTH_PRUNE_INTERVAL seconds): one function for both, so both delete the same rows.

What goes, and what must stay:

- **Codes** an hour after they expired (5 minutes after they were made), used or not. Until
  then a used code stays, so its replay still revokes the grant (RFC 6749 §4.1.2).
- **Token issuances** (an access and a refresh token, one row) once both tokens have expired,
  and every issuance of a grant revoked (or expired) more than a week ago. A *retired*
  refresh token whose own lifetime has not run out stays while its grant lives: coming back,
  it is a replay and must still revoke the grant (OAuth 2.1 §4.3.1). Once expired it would be
  refused anyway, so no thief gains anything from it any more.
- **Clients** nobody ever granted, OAUTH_UNGRANTED_CLIENT_HOURS after they registered (or a
  metadata document was last fetched): abandoned registrations, and what open registration
  was flooded with. A client with a grant, live or revoked, stays (Settings lists the grant
  with its client).
- **Registration throttle rows** (registration_limits.py) whose hour has ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, exists, func, or_

from deskwoot.database import batches
from deskwoot.models import (
    McpToken,
    OAuthClient,
    OAuthCode,
    OAuthGrantClient,
    OAuthRegistrationLimit,
    OAuthToken,
    utcnow,
)
from deskwoot.oauth.registration_limits import WINDOW

CODE_GRACE = timedelta(hours=1)
REVOKED_GRACE = timedelta(days=7)
# Rows per delete transaction: small enough that SQLite's write lock is held for milliseconds.
BATCH = 1_000


@dataclass(frozen=True)
class OAuthPruneResult:
    """How many rows of each kind were (or, in a dry run, would be) deleted."""

    codes: int
    tokens: int
    clients: int
    registration_limits: int
    dry_run: bool

    def counts(self) -> dict[str, int]:
        return {
            "OAuth codes": self.codes,
            "OAuth token issuances": self.tokens,
            "OAuth clients never granted": self.clients,
            "OAuth registration throttle rows": self.registration_limits,
        }


def _targets(now: datetime) -> dict[str, tuple[type, ColumnElement[bool]]]:
    config = current_app.config
    grant_gone = exists().where(
        McpToken.id == OAuthToken.grant_id,
        or_(
            McpToken.revoked_at < now - REVOKED_GRACE,
            McpToken.expires_at < now - REVOKED_GRACE,
        ),
    )
    granted = exists().where(OAuthGrantClient.client_pk == OAuthClient.id)
    last_seen = func.coalesce(OAuthClient.fetched_at, OAuthClient.created_at)
    return {
        "codes": (OAuthCode, OAuthCode.expires_at < now - CODE_GRACE),
        "tokens": (
            OAuthToken,
            or_(
                (OAuthToken.access_expires_at < now) & (OAuthToken.refresh_expires_at < now),
                grant_gone,
            ),
        ),
        "clients": (
            OAuthClient,
            ~granted
            & (last_seen < now - timedelta(hours=float(config["OAUTH_UNGRANTED_CLIENT_HOURS"]))),
        ),
        "registration_limits": (
            OAuthRegistrationLimit,
            OAuthRegistrationLimit.window_start <= now - WINDOW,
        ),
    }


def prune(
    dry_run: bool = False, now: datetime | None = None, max_batches: int | None = None
) -> OAuthPruneResult:
    """Delete (or, in a dry run, count) the dead OAuth rows, BATCH rows per transaction. The
    worker passes `max_batches` so one pass stays short; the rest waits for the next pass."""
    targets = _targets(now or utcnow())
    if dry_run:
        counts = {name: batches.count(model, where) for name, (model, where) in targets.items()}
    else:
        counts = {
            name: batches.delete_in_batches(model, where, BATCH, max_batches)
            for name, (model, where) in targets.items()
        }
    return OAuthPruneResult(**counts, dry_run=dry_run)
