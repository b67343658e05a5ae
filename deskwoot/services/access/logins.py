"""Logging in and out: server-side sessions, throttling, password changes and resets
(ARCHITECTURE §8)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, select, update

from deskwoot.database.entities import adopt, columns
from deskwoot.database.prebuilt import Prebuilt
from deskwoot.database.transactions import write_transaction
from deskwoot.errors import Invalid, NotFound
from deskwoot.extensions import db
from deskwoot.models import LoginThrottle, PasswordToken, User, WebSession, utcnow
from deskwoot.services.access.password_hashing import hash_password, needs_rehash, verify_password
from deskwoot.services.access.random_secrets import digest
from deskwoot.services.operations import mail

# Same words for a wrong password and an unknown email, so the form does not reveal accounts.
BAD_CREDENTIALS = "That email and password do not match an account."
PER_ADDRESS_FREE_FAILURES = 50  # across all emails from one address (credential stuffing)
PASSWORD_LINK_DAYS = 3
# A reset link travels by email, where it may sit unread for a long time: keep it short-lived.
RESET_LINK_MINUTES = 60
# Reset requests each send an email: a few per (email, address) before back-off starts, and
# more from one address across emails (a shared office NAT), so nobody is mail-bombed.
RESET_FREE_REQUESTS = 3
RESET_PER_ADDRESS_FREE_REQUESTS = 20
SET_PASSWORD_PATH = "/set-password/"  # noqa: S105 (a URL path, not a secret)


class Throttled(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"Too many failed attempts. Try again in {retry_after} seconds.")
        self.retry_after = retry_after


@dataclass
class Login:
    user: User
    session_id: str  # goes in the signed cookie; only its digest is stored


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _throttle_keys(email: str, remote_addr: str | None) -> list[tuple[str, int]]:
    # Throttle per (email, address): an attacker elsewhere cannot lock the owner out.
    addr = remote_addr or "-"
    free = current_app.config["LOGIN_THROTTLE_FREE_FAILURES"]
    return [(_key(f"pair:{email}:{addr}"), free), (_key(f"addr:{addr}"), PER_ADDRESS_FREE_FAILURES)]


def _change_keys(user_id: int) -> list[tuple[str, int]]:
    # Per account, not per address: whoever guesses here already holds a session of that
    # account (a stolen cookie, an unlocked laptop) and can move between addresses at will.
    return [(_key(f"change:{user_id}"), current_app.config["LOGIN_THROTTLE_FREE_FAILURES"])]


def _reset_keys(email: str, remote_addr: str | None) -> list[tuple[str, int]]:
    addr = remote_addr or "-"
    return [
        (_key(f"reset:{email}:{addr}"), RESET_FREE_REQUESTS),
        (_key(f"reset-addr:{addr}"), RESET_PER_ADDRESS_FREE_REQUESTS),
    ]


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


# Every page view checks its session: a prebuilt statement, the user adopted as an entity
# (database/entities.py) — still read from the database on every request.
_LIVE_SESSION_USER = Prebuilt(
    select(*columns(User), WebSession.last_seen_at)
    .join(WebSession, WebSession.user_id == User.id)
    .where(WebSession.sid_hash == bindparam("sid_hash"), WebSession.ended_at.is_(None))
)


def load_user(session_id: str) -> User | None:
    """The user behind a live session id, or None (ended, unknown, deactivated)."""
    if not session_id:
        return None
    row = _LIVE_SESSION_USER.first({"sid_hash": digest(session_id)})
    if row is None or not row.is_active:
        return None
    user = adopt(User, row)
    idle = utcnow() - row.last_seen_at
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
    """Change a password and end every other session of that person.

    Wrong current passwords are throttled like logins (raises Throttled), or this form would
    be an unthrottled oracle for the password to anyone holding a session.
    """
    keys = _change_keys(user_id)
    _check_throttle(keys)
    user = db.session.get(User, user_id)
    if user is None or not verify_password(user.password_hash, current or ""):
        _record_failure(keys)
        raise Invalid("Your current password is not right.", field="current_password")
    new_hash = hash_password(new)
    with write_transaction() as session:
        session.get(User, user_id).password_hash = new_hash
        _end_sessions(user_id, except_id=keep_session_id)
        _spend_links(user_id)
        _clear_failures(keys)


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


def create_password_link(user: User, lifetime: timedelta | None = None) -> str:
    """A one-time token to set a password (a reset, or someone added without one); returns
    the raw token, of which only the digest is stored."""
    raw = secrets.token_urlsafe(32)
    with write_transaction() as session:
        session.add(
            PasswordToken(
                token_hash=digest(raw),
                user_id=user.id,
                expires_at=utcnow() + (lifetime or timedelta(days=PASSWORD_LINK_DAYS)),
            )
        )
    return raw


def password_link_url(raw: str) -> str:
    return mail.link(SET_PASSWORD_PATH + raw)


def password_link_user(raw: str) -> User:
    row = db.session.execute(
        select(PasswordToken).where(PasswordToken.token_hash == digest(raw or ""))
    ).scalar_one_or_none()
    user = db.session.get(User, row.user_id) if row is not None else None
    if (
        row is None
        or row.used_at is not None
        or row.expires_at < utcnow()
        or not user.is_active
        or user.kind != "human"
    ):
        raise NotFound("This link has expired or was already used. Ask for a new one.")
    return user


# --- forgot password -------------------------------------------------------------------------


def request_password_reset(email: str, remote_addr: str | None = None) -> None:
    """Email a one-time reset link to the account with this address, if there is one.

    It answers the same way (None) whether or not the account exists, so the form cannot be
    used to find out who has one; requests are throttled per (email, address) and per address
    like logins (raises Throttled), whatever the answer, so it cannot mail-bomb either.
    """
    email = (email or "").strip().lower()
    keys = _reset_keys(email, remote_addr)
    _check_throttle(keys)
    _record_failure(keys)  # every request counts, not only "failed" ones
    user = _resettable(email)
    if user is None:
        return
    raw = create_password_link(user, timedelta(minutes=RESET_LINK_MINUTES))
    mail.send(reset_message(user, raw))


def reset_link(email: str) -> str:
    """A one-time reset URL for the operator to hand over (`deskwoot user reset-link`): works
    without outgoing mail. The operator may know which accounts exist, so unknown is NotFound."""
    user = _resettable((email or "").strip().lower())
    if user is None:
        raise NotFound(f"No account with the email {email.strip()}.")
    return password_link_url(create_password_link(user, timedelta(minutes=RESET_LINK_MINUTES)))


def _resettable(email: str) -> User | None:
    user = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    if user is None or user.kind != "human" or not user.is_active:
        return None
    return user


def reset_message(user: User, raw: str) -> mail.Message:
    return mail.Message(
        to=user.email,
        subject="Reset your Deskwoot password",
        body=(
            f"Hi {user.name},\n\n"
            "Someone (hopefully you) asked to reset the password of your Deskwoot account. "
            f"Choose a new one here; the link works once, for {RESET_LINK_MINUTES} minutes:\n\n"
            f"{password_link_url(raw)}\n\n"
            "Setting it logs you out everywhere else. If you did not ask, ignore this email: "
            "your password stays as it is.\n"
        ),
    )


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
