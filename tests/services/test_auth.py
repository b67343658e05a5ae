"""Web sessions: login, throttling, logout, password changes (ARCHITECTURE §8)."""

from __future__ import annotations

import pytest

from deskwoot.errors import Invalid, NotFound
from deskwoot.services.access import logins as auth
from tests import factories as f


@pytest.fixture
def person(app):
    return f.make_user(f.make_workspace(), role="admin", email="ann@example.test")


def test_login_opens_a_fresh_session_each_time(person):
    one = auth.authenticate("ANN@example.test", f.PASSWORD, "10.0.0.1")
    two = auth.authenticate("ann@example.test", f.PASSWORD, "10.0.0.1")
    assert one.session_id != two.session_id
    assert auth.load_user(one.session_id).id == person.id


def test_unknown_email_and_wrong_password_answer_alike(person):
    with pytest.raises(Invalid) as unknown:
        auth.authenticate("nobody@example.test", f.PASSWORD, "10.0.0.1")
    with pytest.raises(Invalid) as wrong:
        auth.authenticate("ann@example.test", "wrong password", "10.0.0.1")
    assert unknown.value.message == wrong.value.message


def test_logout_kills_the_session_id(person):
    login = auth.authenticate("ann@example.test", f.PASSWORD)
    auth.end_session(login.session_id)
    assert auth.load_user(login.session_id) is None


def test_password_change_ends_other_sessions_only(person):
    keep = auth.authenticate("ann@example.test", f.PASSWORD)
    other = auth.authenticate("ann@example.test", f.PASSWORD)
    with pytest.raises(Invalid):
        auth.change_password(person.id, "not it", "a brand new password", keep.session_id)
    auth.change_password(person.id, f.PASSWORD, "a brand new password", keep.session_id)
    assert auth.load_user(keep.session_id) is not None
    assert auth.load_user(other.session_id) is None
    auth.authenticate("ann@example.test", "a brand new password")


def test_throttling_slows_the_attacker_not_the_owner(person, app):
    app.config["LOGIN_THROTTLE_FREE_FAILURES"] = 3
    for _ in range(3):
        with pytest.raises(Invalid):
            auth.authenticate("ann@example.test", "guess", "203.0.113.9")
    with pytest.raises(Invalid):
        auth.authenticate("ann@example.test", "guess", "203.0.113.9")  # 4th: now blocked
    with pytest.raises(auth.Throttled) as blocked:
        auth.authenticate("ann@example.test", f.PASSWORD, "203.0.113.9")
    assert blocked.value.retry_after >= 1
    # The owner, from their own address, is not locked out.
    assert auth.authenticate("ann@example.test", f.PASSWORD, "198.51.100.7").user.id == person.id
    # Unknown emails are throttled the same way (no account enumeration by timing out).
    for _ in range(4):
        with pytest.raises(Invalid):
            auth.authenticate("ghost@example.test", "guess", "203.0.113.10")
    with pytest.raises(auth.Throttled):
        auth.authenticate("ghost@example.test", "guess", "203.0.113.10")


def test_password_link_is_single_use(person):
    raw = auth.create_password_link(person)
    assert auth.password_link_user(raw).id == person.id
    auth.set_password_with_link(raw, "chosen via the link")
    with pytest.raises(NotFound):
        auth.set_password_with_link(raw, "second use fails")
    auth.authenticate("ann@example.test", "chosen via the link")


def test_a_session_left_idle_past_the_limit_ends(person, app):
    from datetime import timedelta

    from sqlalchemy import update

    from deskwoot.extensions import db
    from deskwoot.models import WebSession, utcnow
    from deskwoot.services.access.random_secrets import digest

    def idle_for(login, days: float) -> None:
        db.session.execute(
            update(WebSession)
            .where(WebSession.sid_hash == digest(login.session_id))
            .values(last_seen_at=utcnow() - timedelta(days=days))
        )
        db.session.commit()

    limit = app.config["SESSION_IDLE_DAYS"]
    recent, stale = (auth.authenticate("ann@example.test", f.PASSWORD) for _ in range(2))
    idle_for(recent, limit - 1)
    idle_for(stale, limit + 1)
    assert auth.load_user(recent.session_id).id == person.id  # and that use renews it
    assert auth.load_user(stale.session_id) is None
    ended = db.session.execute(
        db.select(WebSession.ended_at).where(WebSession.sid_hash == digest(stale.session_id))
    ).scalar_one()
    assert ended is not None  # ended for good, not just refused this once
    idle_for(recent, limit - 1)
    assert auth.load_user(recent.session_id) is not None


# --- changing a password is throttled like logging in ----------------------------------------


def test_wrong_current_passwords_are_throttled_even_for_the_right_one_next(person, app):
    """Review: 30 wrong current passwords in 3.5 s, no slowdown (an oracle for the password
    to anyone holding a session)."""
    from sqlalchemy import update

    from deskwoot.extensions import db
    from deskwoot.models import LoginThrottle, utcnow

    free = app.config["LOGIN_THROTTLE_FREE_FAILURES"]
    keep = auth.authenticate("ann@example.test", f.PASSWORD)
    for _ in range(free + 1):  # the last one over the allowance starts the back-off
        with pytest.raises(Invalid):
            auth.change_password(person.id, "a guess", "a brand new password", keep.session_id)
    with pytest.raises(auth.Throttled) as blocked:
        auth.change_password(person.id, f.PASSWORD, "a brand new password", keep.session_id)
    assert blocked.value.retry_after >= 1
    assert "Too many failed attempts" in str(blocked.value)
    auth.authenticate("ann@example.test", f.PASSWORD)  # the password did not change

    # Once the window has passed, the right password works (and clears the count).
    db.session.execute(update(LoginThrottle).values(blocked_until=utcnow()))
    db.session.commit()
    auth.change_password(person.id, f.PASSWORD, "a brand new password", keep.session_id)
    auth.authenticate("ann@example.test", "a brand new password")
    assert db.session.query(LoginThrottle).filter(LoginThrottle.failures > 0).count() == 0


# --- forgot password -------------------------------------------------------------------------


@pytest.fixture
def outbox(app):
    """A mail sender that keeps what it is given (Deskwoot registers none of its own yet)."""
    from deskwoot.services.operations import mail

    sent: list[mail.Message] = []
    mail.register_sender(app, sent.append)
    yield sent
    mail.register_sender(app, None)


def _token(message) -> str:
    import re

    return re.search(r"/set-password/([A-Za-z0-9_\-]+)", message.body).group(1)


def test_a_reset_link_is_mailed_works_once_and_ends_every_session(person, outbox):
    old = auth.authenticate("ann@example.test", f.PASSWORD)
    assert auth.request_password_reset(" ANN@example.test ", "10.0.0.1") is None
    [message] = outbox
    assert message.to == "ann@example.test" and "http://localhost/set-password/" in message.body
    raw = _token(message)
    assert auth.password_link_user(raw).id == person.id
    auth.set_password_with_link(raw, "chosen after forgetting")
    assert auth.load_user(old.session_id) is None
    with pytest.raises(NotFound):
        auth.set_password_with_link(raw, "second use fails")
    auth.authenticate("ann@example.test", "chosen after forgetting")


def test_a_reset_link_expires_within_the_hour(person, outbox):
    from datetime import timedelta

    from deskwoot.extensions import db
    from deskwoot.models import PasswordToken, utcnow
    from deskwoot.services.access.random_secrets import digest

    auth.request_password_reset("ann@example.test", "10.0.0.1")
    raw = _token(outbox[0])
    row = db.session.query(PasswordToken).filter_by(token_hash=digest(raw)).one()
    assert row.expires_at - utcnow() <= timedelta(minutes=auth.RESET_LINK_MINUTES)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    with pytest.raises(NotFound):
        auth.set_password_with_link(raw, "too late for this")


def test_reset_answers_alike_for_unknown_addresses_and_bots(person, outbox):
    from deskwoot.extensions import db
    from deskwoot.models import PasswordToken, User

    db.session.add(User(email="bot@bots.invalid", name="Bot", kind="bot"))
    db.session.commit()
    for email in ("nobody@example.test", "bot@bots.invalid"):
        assert auth.request_password_reset(email, "10.0.0.1") is None
    assert outbox == []
    assert db.session.query(PasswordToken).count() == 0


def test_reset_requests_are_throttled_per_email_and_address(person, outbox):
    for _ in range(auth.RESET_FREE_REQUESTS + 1):
        auth.request_password_reset("ann@example.test", "203.0.113.9")
    with pytest.raises(auth.Throttled):
        auth.request_password_reset("ann@example.test", "203.0.113.9")
    # Unknown addresses are throttled alike, so throttling reveals no accounts either.
    for _ in range(auth.RESET_FREE_REQUESTS + 1):
        auth.request_password_reset("ghost@example.test", "203.0.113.9")
    with pytest.raises(auth.Throttled):
        auth.request_password_reset("ghost@example.test", "203.0.113.9")
    # The owner, elsewhere, still gets their link.
    sent = len(outbox)
    auth.request_password_reset("ann@example.test", "198.51.100.7")
    assert len(outbox) == sent + 1


def test_without_a_mail_sender_a_reset_request_sends_nothing_and_fails_nothing(person):
    from deskwoot.services.operations import mail

    assert not mail.configured()
    auth.request_password_reset("ann@example.test", "10.0.0.1")
    assert auth.authenticate("ann@example.test", f.PASSWORD).user.id == person.id
