"""Signing up, logging in and out, sessions and passwords through the real forms."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from deskwoot.extensions import db
from deskwoot.models import Membership, User, WebSession, Workspace
from deskwoot.services.access.logins import BAD_CREDENTIALS
from tests import factories

COOKIE = "deskwoot_session"
NEW_PASSWORD = "a brand new passphrase"


def _signup(client, **overrides):
    data = {
        "workspace_name": "Globex Help",
        "name": "Grace Hopper",
        "email": "grace@globex.test",
        "password": "long enough password",
        **overrides,
    }
    return client.post("/signup", data=data)


def test_signup_creates_a_trial_workspace_and_lands_on_its_empty_queue(client):
    response = _signup(client)
    ws = db.session.execute(select(Workspace).where(Workspace.name == "Globex Help")).scalar_one()
    assert response.status_code == 302
    assert response.headers["Location"] == f"/w/{ws.slug}/conversations"
    assert ws.plan == "trial"
    membership = db.session.execute(select(Membership).where(Membership.workspace_id == ws.id))
    assert membership.scalar_one().role == "admin"

    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Globex Help" in page
    assert "No inboxes yet" in page
    assert "Settings → Inboxes" in page
    assert "Enterprise trial: 7 days left" in page


def test_signup_with_a_taken_email_says_log_in_instead(client, desk):
    response = _signup(client, email=desk.admin.email)
    assert response.status_code == 200
    assert "Log in instead" in response.get_data(as_text=True)
    assert (
        db.session.execute(select(Workspace).where(Workspace.name == "Globex Help")).first() is None
    )


def test_signup_with_a_short_password_is_refused(client):
    response = _signup(client, password="short")
    assert "at least 10" in response.get_data(as_text=True)
    assert db.session.execute(select(User).where(User.email == "grace@globex.test")).first() is None


def test_login_lands_on_the_workspace(client, auth, desk):
    response = auth.login(desk.admin.email)
    assert response.status_code == 302
    home = client.get(response.headers["Location"])
    assert home.status_code == 302
    assert home.headers["Location"] == f"/w/{desk.workspace.slug}/conversations"
    assert "Lost parcel" in client.get(home.headers["Location"]).get_data(as_text=True)


def test_wrong_password_and_unknown_email_get_the_same_answer(client, auth, desk):
    wrong = auth.login(desk.admin.email, "not the password")
    unknown = auth.login("nobody@acme.test", "not the password")
    assert wrong.status_code == unknown.status_code == 200
    for response in (wrong, unknown):
        assert BAD_CREDENTIALS in response.get_data(as_text=True)
    assert client.get(desk.url("/conversations")).status_code == 302


def test_repeated_failures_are_throttled_with_429(app, client, auth, desk):
    app.config["LOGIN_THROTTLE_FREE_FAILURES"] = 2
    for _ in range(3):
        auth.login(desk.admin.email, "wrong password")
    response = auth.login(desk.admin.email)
    assert response.status_code == 429
    assert "Too many failed attempts" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) >= 1


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/w/{slug}/contacts", "/w/{slug}/contacts"),
        ("//evil.example/x", "/"),
        ("https://evil.example/x", "/"),
        ("/\\evil.example", "/"),
    ],
)
def test_login_follows_only_local_next_urls(client, desk, next_url, expected):
    slug = desk.workspace.slug
    response = client.post(
        "/login",
        data={
            "email": desk.admin.email,
            "password": factories.PASSWORD,
            "next": next_url.format(slug=slug),
        },
    )
    assert response.headers["Location"] == expected.format(slug=slug)


def test_anonymous_visitors_are_sent_to_login_and_back(client, desk):
    response = client.get(desk.url("/contacts"))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert client.get("/").headers["Location"] == "/login"


def test_logout_kills_the_session_even_if_the_cookie_is_replayed(client, auth, desk):
    auth.login(desk.admin.email)
    assert client.get(desk.url("/conversations")).status_code == 200
    old_cookie = client.get_cookie(COOKIE).value

    assert auth.logout().headers["Location"] == "/login"
    client.set_cookie(COOKIE, old_cookie)
    response = client.get(desk.url("/conversations"))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_logout_is_post_only(client, auth, desk):
    auth.login(desk.admin.email)
    assert client.get("/logout").status_code == 405
    assert client.get(desk.url("/conversations")).status_code == 200


def test_each_login_gets_a_new_session_id_and_ends_the_old_one(client, auth, desk):
    auth.login(desk.admin.email)
    first = client.get_cookie(COOKIE).value
    auth.login(desk.admin.email)
    assert client.get_cookie(COOKIE).value != first
    assert client.get(desk.url("/conversations")).status_code == 200
    live = (
        db.session.execute(
            select(WebSession).where(
                WebSession.user_id == desk.admin.id, WebSession.ended_at.is_(None)
            )
        )
        .scalars()
        .all()
    )
    assert len(live) == 1

    client.set_cookie(COOKIE, first)
    assert client.get(desk.url("/conversations")).status_code == 302


def test_changing_password_logs_out_other_sessions(app, desk):
    laptop, phone = app.test_client(), app.test_client()
    for browser in (laptop, phone):
        browser.post("/login", data={"email": desk.admin.email, "password": factories.PASSWORD})
        assert browser.get(desk.url("/conversations")).status_code == 200

    response = laptop.post(
        "/account/password",
        data={
            "current_password": factories.PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
        follow_redirects=True,
    )
    assert "Password changed" in response.get_data(as_text=True)
    assert laptop.get(desk.url("/conversations")).status_code == 200
    assert phone.get(desk.url("/conversations")).status_code == 302

    fresh = app.test_client()
    old = fresh.post("/login", data={"email": desk.admin.email, "password": factories.PASSWORD})
    assert BAD_CREDENTIALS in old.get_data(as_text=True)
    new = fresh.post("/login", data={"email": desk.admin.email, "password": NEW_PASSWORD})
    assert new.status_code == 302


def test_changing_password_needs_the_current_one(as_admin, desk):
    response = as_admin.post(
        "/account/password",
        data={
            "current_password": "wrong one!!",
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert "current password is not right" in response.get_data(as_text=True)
    assert as_admin.get(desk.url("/conversations")).status_code == 200


def test_an_unknown_password_link_is_a_friendly_404(client):
    response = client.get("/set-password/not-a-real-token")
    assert response.status_code == 404
    assert "no longer works" in response.get_data(as_text=True)
