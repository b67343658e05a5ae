"""Configuration: defaults, then instance/config.py, then DESKWOOT_* environment variables."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

DEFAULTS = {
    "SECRET_KEY": None,  # filled from instance/secret_key when not configured
    "SQLALCHEMY_DATABASE_URI": None,  # filled from DATABASE_URL or the instance folder
    "PUBLIC_URL": "http://127.0.0.1:8000",
    "TRIAL_DAYS": 7,
    "MAX_CONTENT_LENGTH": 1024 * 1024,  # 1 MiB: ARCHITECTURE §9, also bounds the inbound hook
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "deskwoot_session",
    # None: decided by PUBLIC_URL (https -> Secure) in load(). Set it to override; Flask's
    # own default (False) must not stand, or https deployments would send plain cookies.
    "SESSION_COOKIE_SECURE": None,
    # How many reverse proxies (nginx, Caddy) sit in front and append X-Forwarded-For/-Proto.
    # 0 trusts none: a client could otherwise forge its address and dodge login throttling.
    "TRUSTED_PROXIES": 0,
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
    "LOGIN_THROTTLE_FREE_FAILURES": 5,
    "LOGIN_THROTTLE_MAX_DELAY": 300,
    # A browser session left unused this long ends: the next visit asks to log in again.
    "SESSION_IDLE_DAYS": 14,
    "EVENT_RETENTION_DAYS": 30,
    "IDEMPOTENCY_RETENTION_HOURS": 48,
    # Per MCP token, shared by every worker (services/access/rate_limit.py): a burst of
    # MCP_RATE_BURST tools/call at once, then MCP_RATE_LIMIT a minute. 0 turns it off.
    "MCP_RATE_LIMIT": 600,
    "MCP_RATE_BURST": 200,
    # The delivery worker (deskwoot/delivery/): transient failures are retried after
    # exponential backoff with full jitter (base × 2^(attempt-1), capped), until the message
    # has had DELIVERY_MAX_ATTEMPTS attempts; then it is marked failed.
    "DELIVERY_MAX_ATTEMPTS": 8,
    "DELIVERY_BACKOFF_BASE": 30,  # seconds
    "DELIVERY_BACKOFF_CAP": 3600,  # seconds
    # How long a claim holds: longer than a batch takes; a dead worker's rows are free after.
    "DELIVERY_LEASE": 300,  # seconds
    "DELIVERY_BATCH": 10,  # rows claimed at once
    "DELIVERY_POLL_INTERVAL": 1.0,  # seconds between looks at an empty outbox
    "WEBHOOK_TIMEOUT": 10,  # seconds for one webhook POST
    # Event webhooks (services/webhooks/): an endpoint is disabled after this many deliveries
    # in a row ended failed (each after its retries), or at once on HTTP 410 Gone; the fan-out
    # reads at most this many events per endpoint per worker pass; the delivery log keeps
    # finished deliveries this many days (`deskwoot prune`).
    "WEBHOOK_DISABLE_AFTER": 20,
    "WEBHOOK_FANOUT_BATCH": 500,
    "WEBHOOK_LOG_RETENTION_DAYS": 30,
    # Mail servers (channels/email/servers.py): a CA file to trust besides the system's, for
    # a private CA; the seconds one SMTP or IMAP conversation may take; how often the worker
    # polls each email inbox's IMAP mailbox.
    "MAIL_TLS_CAFILE": None,
    "MAIL_TIMEOUT": 30,
    # The Settings page's "Send a test" / "Check mailbox" wait for the server inside a web
    # request: keep them well under gunicorn's 30 s worker timeout.
    "MAIL_PROBE_TIMEOUT": 10,
    "IMAP_POLL_INTERVAL": 60,
    # The product's own mail (invitations, password resets): one SMTP URL and From address,
    # sent by the delivery worker. Unset: the product sends no mail (links are shown instead).
    "SMTP_URL": None,
    "MAIL_FROM": None,
    # Attachments (services/conversations/attachments.py): where the bytes live (None:
    # instance/attachments) and how large one file and one message's files may be.
    "ATTACHMENTS_DIR": None,
    "ATTACHMENT_MAX_BYTES": 10 * 1024 * 1024,
    "ATTACHMENT_MAX_TOTAL_BYTES": 25 * 1024 * 1024,
    # OAuth housekeeping (deskwoot/oauth/): the delivery worker prunes spent codes, dead
    # tokens and clients never granted within OAUTH_UNGRANTED_CLIENT_HOURS at most every
    # OAUTH_PRUNE_INTERVAL seconds (0: only `deskwoot prune` does). Open registration (RFC
    # 7591) takes at most OAUTH_REGISTRATIONS_PER_HOUR clients per address an hour and stops
    # while OAUTH_UNGRANTED_CLIENTS_MAX registered clients wait for a first grant.
    "OAUTH_PRUNE_INTERVAL": 300,
    "OAUTH_UNGRANTED_CLIENT_HOURS": 24,
    "OAUTH_REGISTRATIONS_PER_HOUR": 10,
    "OAUTH_UNGRANTED_CLIENTS_MAX": 1000,
    "SQLALCHEMY_ENGINE_OPTIONS": {},
}

ENV_PREFIX = "DESKWOOT_"


def load(app, overrides: dict | None) -> None:
    """Fill app.config from the defaults, the instance file and the environment, in that order."""
    app.config.update({k: v for k, v in DEFAULTS.items()})
    app.config.from_pyfile("config.py", silent=True)
    for key, raw in os.environ.items():
        if key.startswith(ENV_PREFIX):
            app.config[key.removeprefix(ENV_PREFIX)] = _parse_env(raw)
    if os.environ.get("DATABASE_URL") and not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = os.environ["DATABASE_URL"]
    if overrides:
        app.config.update(overrides)

    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = database_url(app)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    app.config["PUBLIC_URL"] = app.config["PUBLIC_URL"].rstrip("/")
    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = app.config["PUBLIC_URL"].startswith("https://")


def database_url(app) -> str:
    """Return the SQLAlchemy URL: DATABASE_URL (PostgreSQL) or SQLite in the instance folder."""
    url = app.config.get("DATABASE_URL")
    if url:
        # psycopg 3 is the driver we ship; accept the URLs people paste from their host.
        for legacy in ("postgres://", "postgresql://"):
            if url.startswith(legacy):
                return "postgresql+psycopg://" + url.removeprefix(legacy)
        return url
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    return "sqlite:///" + str(Path(app.instance_path) / "deskwoot.sqlite3")


def _parse_env(raw: str):
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _instance_secret(instance: Path) -> str:
    """Keep a generated secret key in the instance folder so sessions survive restarts."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        # Several gunicorn workers may start at once: write aside, then link atomically.
        tmp = instance / f".secret_key.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()
