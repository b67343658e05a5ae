"""Logging in and out: server-side sessions, throttling, password changes (DESIGN §7)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from deskwoot.database import write_transaction
from deskwoot.errors import Invalid, NotFound
from deskwoot.extensions import db
from deskwoot.models import LoginThrottle, PasswordToken, User, WebSession, utcnow
from deskwoot.services.passwords import hash_password, needs_rehash, verify_password
from deskwoot.services.secrets import digest

# Same words for a wrong password and an unknown email, so the form does not reveal accounts.
BAD_CREDENTIALS = "That email and password do not match an account."
PER_ADDRESS_FREE_FAILURES = 50  # across all emails from one address (credential stuffing)
PASSWORD_LINK_DAYS = 3


class Throttled(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"Too many failed attempts. Try again in {retry_after} seconds.")
        self.retry_after = retry_after


@dataclass
class Login:
    user: User
    session_id: str  # goes in the signed cookie; only its digest is stored


def _throttle_keys(email: str, remote_addr: str | None) -> list[tuple[str, int]]:
    # Throttle per (email, address): an attacker elsewhere cannot lock the owner out.
    addr = remote_addr or "-"
    free = current_app.config["LOGIN_THROTTLE_FREE_FAILURES"]
    pair = hashlib.sha256(f"pair:{email}:{addr}".encode()).hexdigest()
    ip = hashlib.sha256(f"addr:{addr}".encode()).hexdigest()
    return [(pair, free), (ip, PER_ADDRESS_FREE_FAILURES)]


def _check_throttle(keys: list[tuple[str, int]]) -> None:
    now = utcnow()
    rows = db.session.execute(
        select(LoginThrottle).where(LoginThrottle.key.in_([k for k, _ in keys]))
    ).scalars()
    for row in rows:
        if row.blocked_until is not None and row.blocked_until > now:
            raise Throttled(int((row.blocked_until - now).total_seconds()) + 1)


def _record_failure(keys: list[tuple[str, int]]) -> None:
    now = utcnow()
    max_delay = current_app.config["LOGIN_THROTTLE_MAX_DELAY"]
    with write_transaction() as session:
        for key, free in keys:
            row = session.get(LoginThrottle, key)
            if row is None or (now - row.last_failure_at) > timedelta(hours=1):
                row = row or LoginThrottle(key=key)
                row.failures = 0
                session.add(row)
            row.failures += 1
            row.last_failure_at = now
            over = row.failures - free
            if over > 0:
                # Exponential back-off: 1 s, 2 s, 4 s … up to the cap; it slows guessing
                # without ever locking the account itself.
                row.blocked_until = now + timedelta(seconds=min(2 ** (over - 1), max_delay))


def _clear_failures(keys: list[tuple[str, int]]) -> None:
    db.session.execute(LoginThrottle.__table__.delete().where(LoginThrottle.key == keys[0][0]))


def authenticate(
    email: str, password: str, remote_addr: str | None = None, user_agent: str | None = None
) -> Login:
    """Check credentials and open a new session; raises Invalid or Throttled."""
    email = (email or "").strip().lower()
    keys = _throttle_keys(email, remote_addr)
    _check_throttle(keys)
    user = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    ok = verify_password(user.password_hash if user else None, password or "")
    if not ok or user is None or user.kind != "human" or not user.is_active:
        _record_failure(keys)
        raise Invalid(BAD_CREDENTIALS)
    session_id = secrets.token_urlsafe(32)
    with write_transaction() as session:
        user = session.get(User, user.id)
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        _clear_failures(keys)
        session.add(_session_row(session_id, user.id, remote_addr, user_agent))
    user.web_session_id = session_id
    return Login(user, session_id)


def _session_row(
    session_id: str, user_id: int, remote_addr: str | None, user_agent: str | None
) -> WebSession:
    # Only the digest is stored: a copy of this table opens no sessions.
    return WebSession(
        sid_hash=digest(session_id),
        user_id=user_id,
        remote_addr=(remote_addr or "")[:64] or None,
        user_agent=(user_agent or "")[:255] or None,
    )


def load_user(session_id: str) -> User | None:
    """The user behind a live session id, or None (ended, unknown, deactivated)."""
    if not session_id:
        return None
    row = db.session.execute(
        select(User, WebSession.last_seen_at)
        .join(WebSession, WebSession.user_id == User.id)
        .where(WebSession.sid_hash == digest(session_id), WebSession.ended_at.is_(None))
    ).first()
    if row is None or not row[0].is_active:
        return None
    user, last_seen = row
    idle = utcnow() - last_seen
    if idle > timedelta(days=current_app.config["SESSION_IDLE_DAYS"]):
        end_session(session_id)  # a laptop left logged in for weeks is not a login
        return None
    if idle > timedelta(minutes=5):
        with write_transaction() as session:
            session.execute(
                update(WebSession)
                .where(WebSession.sid_hash == digest(session_id))
                .values(last_seen_at=utcnow())
            )
        user = db.session.get(User, user.id)
    user.web_session_id = session_id
    return user


def end_session(session_id: str | None) -> None:
    """Log out: the session id stops working everywhere, even if the cookie is replayed."""
    if not session_id:
        return
    with write_transaction() as session:
        session.execute(
            update(WebSession)
            .where(WebSession.sid_hash == digest(session_id), WebSession.ended_at.is_(None))
            .values(ended_at=utcnow())
        )


def change_password(user_id: int, current: str, new: str, keep_session_id: str | None) -> None:
    """Change a password and end every other session of that person."""
    user = db.session.get(User, user_id)
    if user is None or not verify_password(user.password_hash, current or ""):
        raise Invalid("Your current password is not right.", field="current_password")
    new_hash = hash_password(new)
    with write_transaction() as session:
        session.get(User, user_id).password_hash = new_hash
        _end_sessions(user_id, except_id=keep_session_id)
        _spend_links(user_id)


def renew_session(
    session_id: str, remote_addr: str | None = None, user_agent: str | None = None
) -> Login | None:
    """Swap a live session for a new id (after a password change): someone holding a copy of
    the old cookie, often the reason for the change, is logged out too. None if it had ended."""
    new_id = secrets.token_urlsafe(32)
    with write_transaction() as session:
        row = session.execute(
            select(WebSession).where(
                WebSession.sid_hash == digest(session_id or ""), WebSession.ended_at.is_(None)
            )
        ).scalar_one_or_none()
        if row is None:
            return None
        row.ended_at = utcnow()
        session.add(_session_row(new_id, row.user_id, remote_addr, user_agent))
        user_id = row.user_id
    user = db.session.get(User, user_id)
    user.web_session_id = new_id
    return Login(user, new_id)


def _end_sessions(user_id: int, except_id: str | None = None) -> None:
    query = update(WebSession).where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
    if except_id:
        query = query.where(WebSession.sid_hash != digest(except_id))
    db.session.execute(query.values(ended_at=utcnow()))


def _spend_links(user_id: int) -> None:
    # Once a password is chosen, every other link for it (an older one leaked from an inbox,
    # say) must stop working: otherwise it could set the password again and take the account.
    db.session.execute(
        update(PasswordToken)
        .where(PasswordToken.user_id == user_id, PasswordToken.used_at.is_(None))
        .values(used_at=utcnow())
    )


def create_password_link(user: User) -> str:
    """A one-time token to set a password (new teammates); returns the raw token."""
    raw = secrets.token_urlsafe(32)
    with write_transaction() as session:
        session.add(
            PasswordToken(
                token_hash=digest(raw),
                user_id=user.id,
                expires_at=utcnow() + timedelta(days=PASSWORD_LINK_DAYS),
            )
        )
    return raw


def password_link_user(raw: str) -> User:
    row = db.session.execute(
        select(PasswordToken).where(PasswordToken.token_hash == digest(raw or ""))
    ).scalar_one_or_none()
    if row is None or row.used_at is not None or row.expires_at < utcnow():
        raise NotFound("This link has expired or was already used. Ask an admin for a new one.")
    return db.session.get(User, row.user_id)


def set_password_with_link(raw: str, new: str) -> User:
    """Use a one-time link: set the password, spend the link, end any old sessions."""
    user = password_link_user(raw)
    new_hash = hash_password(new)
    with write_transaction() as session:
        token = session.execute(
            select(PasswordToken).where(PasswordToken.token_hash == digest(raw))
        ).scalar_one()
        if token.used_at is not None:
            raise NotFound("This link was already used.")
        token.used_at = utcnow()
        session.get(User, user.id).password_hash = new_hash
        _end_sessions(user.id)
        _spend_links(user.id)
    return db.session.get(User, user.id)
