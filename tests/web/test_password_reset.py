"""Forgot password (only with outgoing mail) and the throttled change-password form."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from deskwoot.extensions import db
from deskwoot.models import LoginThrottle, utcnow
from deskwoot.services.access import logins as auth_service
from deskwoot.services.operations import mail
from tests import factories

LINK_RE = re.compile(r"http://localhost(/set-password/[A-Za-z0-9_\-]+)")
NEW = "a fresh password"


@pytest.fixture
def outbox(app):
    """A test mail sender: with it registered, outgoing mail counts as configured."""
    sent: list[mail.Message] = []
    mail.register_sender(app, sent.append)
    yield sent
    mail.register_sender(app, None)


def _login(client, email: str, password: str = factories.PASSWORD):
    return client.post("/login", data={"email": email, "password": password})


def test_forgot_password_exists_only_when_mail_can_reach_people(client, app):
    assert "Forgot password?" not in client.get("/login").get_data(as_text=True)
    assert client.get("/forgot-password").status_code == 404
    assert client.post("/forgot-password", data={"email": "x@acme.test"}).status_code == 404
    mail.register_sender(app, lambda message: None)
    try:
        assert "Forgot password?" in client.get("/login").get_data(as_text=True)
        assert client.get("/forgot-password").status_code == 200
    finally:
        mail.register_sender(app, None)


def test_resetting_a_forgotten_password_from_the_mailed_link(app, desk, outbox):
    laptop = app.test_client()
    assert _login(laptop, desk.agent.email).status_code == 302

    browser = app.test_client()
    asked = browser.post("/forgot-password", data={"email": desk.agent.email})
    assert asked.status_code == 302 and asked.headers["Location"].endswith("/login")
    [message] = outbox
    assert message.to == desk.agent.email
    link = LINK_RE.search(message.body).group(1)

    page = browser.get(link).get_data(as_text=True)
    assert "Choose a new password" in page and desk.agent.email in page
    done = browser.post(link, data={"new_password": NEW, "confirm": NEW})
    assert done.status_code == 302
    assert browser.get(desk.url("/conversations")).status_code == 200  # logged in
    # As with a password change, every other session ends.
    assert laptop.get(desk.url("/conversations")).status_code == 302
    assert _login(app.test_client(), desk.agent.email).status_code == 200  # old one refused
    assert _login(app.test_client(), desk.agent.email, NEW).status_code == 302
    assert app.test_client().get(link).status_code == 404  # used


def test_the_answer_is_the_same_whether_or_not_the_account_exists(app, desk, outbox):
    def ask(email: str):
        browser = app.test_client()
        response = browser.post("/forgot-password", data={"email": email})
        return response.status_code, response.headers.get("Location"), _flashes(browser)

    known = ask(desk.agent.email)
    assert "If an account uses that email" in known[2]
    assert known == ask("nobody@acme.test")
    assert [m.to for m in outbox] == [desk.agent.email]


def _flashes(browser) -> str:
    page = browser.get("/login").get_data(as_text=True)
    return re.sub(r"\s+", " ", "".join(re.findall(r'class="flash[^"]*"[^>]*>(.*?)</', page)))


def test_reset_requests_are_throttled(app, desk, outbox):
    browser = app.test_client()
    for _ in range(auth_service.RESET_FREE_REQUESTS + 1):
        assert browser.post("/forgot-password", data={"email": desk.agent.email}).status_code == 302
    refused = browser.post("/forgot-password", data={"email": desk.agent.email})
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert "Too many" in refused.get_data(as_text=True)


def test_changing_a_password_is_throttled_after_wrong_current_passwords(app, as_agent, desk):
    """Review: the change-password form was an unthrottled oracle for the current password."""
    free = app.config["LOGIN_THROTTLE_FREE_FAILURES"]
    wrong = {"current_password": "a guess", "new_password": NEW, "confirm": NEW}
    for _ in range(free + 1):
        response = as_agent.post("/account/password", data=wrong)
        assert response.status_code == 200
        assert "current password is not right" in response.get_data(as_text=True)
    right = {**wrong, "current_password": factories.PASSWORD}
    refused = as_agent.post("/account/password", data=right)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert "Too many failed attempts" in refused.get_data(as_text=True)
    assert _login(app.test_client(), desk.agent.email).status_code == 302  # unchanged

    db.session.execute(update(LoginThrottle).values(blocked_until=utcnow()))  # window passed
    db.session.commit()
    assert as_agent.post("/account/password", data=right).status_code == 302
    assert _login(app.test_client(), desk.agent.email, NEW).status_code == 302
