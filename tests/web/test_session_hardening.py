"""Trying to break the web session (ARCHITECTURE §8): fixation, replayed cookies, password
changes and links, people taken off a team, and login throttling that must slow an attacker
without ever locking the real person out or telling anyone which emails have accounts.

tests/web/test_auth.py covers the happy paths; these tests play the attacker.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from deskwoot import create_app
from deskwoot.extensions import db
from deskwoot.models import Message, PasswordToken, User, WebSession, utcnow
from deskwoot.services.access import logins as auth_service
from deskwoot.services.access import password_hashing as passwords
from deskwoot.services.access.logins import BAD_CREDENTIALS
from tests import factories

COOKIE = "deskwoot_session"
NEW_PASSWORD = "a brand new passphrase"
TOKEN_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
ATTACKER = "203.0.113.66"
OWNER = "198.51.100.7"
# Free failures before throttling: small, since every guess pays for a real argon2 check.
FREE = 2


def _token(page) -> str:
    return TOKEN_RE.search(page.get_data(as_text=True)).group(1)


def _login(client, email: str, password: str = factories.PASSWORD, addr: str | None = None):
    environ = {"REMOTE_ADDR": addr} if addr else {}
    return client.post("/login", data={"email": email, "password": password}, environ_base=environ)


def _replay(app, cookie: str):
    """A new browser that was handed someone's cookie."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie)
    return thief


def _session_id(app, client) -> str | None:
    """The server-side session id this browser's signed cookie carries."""
    cookie = client.get_cookie(COOKIE)
    data = app.session_interface.get_signing_serializer(app).loads(cookie.value) if cookie else {}
    return data.get("_user_id")


def _refused(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def _live_sessions(user_id: int) -> int:
    return db.session.execute(
        select(func.count())
        .select_from(WebSession)
        .where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
    ).scalar_one()


def _messages() -> int:
    return db.session.execute(select(func.count()).select_from(Message)).scalar_one()


# --- session fixation and replay -------------------------------------------------------------


def test_login_renews_the_session_and_a_planted_cookie_stays_anonymous(csrf_app):
    ws = factories.make_workspace()
    admin = factories.make_user(ws, role="admin")
    home = f"/w/{ws.slug}/conversations"
    victim = csrf_app.test_client()
    form = victim.get("/login")
    planted = victim.get_cookie(COOKIE).value  # what an attacker could have fixed beforehand
    pre_login_token = _token(form)

    response = victim.post(
        "/login",
        data={"email": admin.email, "password": factories.PASSWORD, "csrf_token": pre_login_token},
    )
    assert response.status_code == 302
    assert victim.get_cookie(COOKIE).value != planted
    assert victim.get(home).status_code == 200

    # The attacker's copy of the pre-login cookie is still nobody's session.
    assert _refused(_replay(csrf_app, planted).get(home))
    # And the CSRF token they could read before login is worthless after it.
    reply = f"/w/{ws.slug}/conversations/1/reply"
    refused = victim.post(reply, data={"body": "forged", "csrf_token": pre_login_token})
    assert refused.status_code == 400


def test_logging_in_over_a_planted_logged_in_cookie_gives_the_attacker_nothing(app, desk):
    """The attacker plants the cookie of their own (agent) session; the admin logs in on top."""
    attacker = app.test_client()
    _login(attacker, desk.agent.email)
    planted = attacker.get_cookie(COOKIE).value
    victim = _replay(app, planted)
    assert _login(victim, desk.admin.email).status_code == 302

    assert _session_id(app, victim) != _session_id(app, attacker)
    assert victim.get(desk.url("/settings/team")).status_code == 200  # the admin's session
    # The planted session was ended, not promoted: its holder is logged out, not an admin.
    assert _refused(attacker.get(desk.url("/settings/team")))
    assert _live_sessions(desk.agent.id) == 0


def test_a_cookie_replayed_after_logout_is_refused_in_a_fresh_browser(app, client, auth, desk):
    auth.login(desk.admin.email)
    assert client.get(desk.url("/conversations")).status_code == 200
    stolen = client.get_cookie(COOKIE).value
    auth.logout()
    before = _messages()

    thief = _replay(app, stolen)
    assert _refused(thief.get(desk.url("/conversations")))
    assert _refused(thief.post(desk.conv_url(action="reply"), data={"body": "as the admin"}))
    assert _refused(thief.get("/account/password"))
    assert _messages() == before
    assert _live_sessions(desk.admin.id) == 0


def test_a_cookie_signed_with_another_key_is_nobodys_session(app, app_config, client, auth, desk):
    """The cookie carries a live session id; only the server's key can sign one, and the
    database keeps a digest, so a leaked table row is not a cookie either."""
    auth.login(desk.admin.email)
    data = app.session_interface.get_signing_serializer(app).loads(client.get_cookie(COOKIE).value)
    stored = db.session.execute(select(WebSession.sid_hash)).scalar_one()
    assert data["_user_id"] and data["_user_id"] != stored

    other = create_app({**app_config, "SECRET_KEY": "a guessed key"})
    forged = other.session_interface.get_signing_serializer(other).dumps(data)
    assert _refused(_replay(app, forged).get(desk.url("/conversations")))
    # Even someone with the key and a copy of the sessions table holds only digests.
    from_table = app.session_interface.get_signing_serializer(app).dumps(
        {**data, "_user_id": stored}
    )
    assert _refused(_replay(app, from_table).get(desk.url("/conversations")))
    assert client.get(desk.url("/conversations")).status_code == 200


# --- password change, links, people leaving ---------------------------------------------------


def test_password_change_ends_other_sessions_and_renews_this_one(app, desk):
    laptop, phone = app.test_client(), app.test_client()
    for browser in (laptop, phone):
        _login(browser, desk.admin.email)
    before = laptop.get_cookie(COOKIE).value  # e.g. a copy someone took off this laptop
    before_id = _session_id(app, laptop)
    form = {"current_password": factories.PASSWORD, "new_password": NEW_PASSWORD}
    changed = laptop.post("/account/password", data={**form, "confirm": NEW_PASSWORD})
    assert changed.status_code == 302

    # The person who changed it stays logged in, on a new session id…
    assert laptop.get(desk.url("/conversations")).status_code == 200
    assert _session_id(app, laptop) not in (None, before_id)
    # …while every older session, including the copy of this browser's, is over.
    assert _refused(phone.get(desk.url("/conversations")))
    assert _refused(_replay(app, before).get(desk.url("/conversations")))
    assert _live_sessions(desk.admin.id) == 1


def test_a_wrong_current_password_changes_nothing(app, desk):
    laptop, phone = app.test_client(), app.test_client()
    for browser in (laptop, phone):
        _login(browser, desk.admin.email)
    before = _session_id(app, laptop)
    form = {"current_password": "a wrong guess", "new_password": NEW_PASSWORD}
    response = laptop.post("/account/password", data={**form, "confirm": NEW_PASSWORD})
    assert "current password is not right" in response.get_data(as_text=True)
    assert _session_id(app, laptop) == before
    assert laptop.get(desk.url("/conversations")).status_code == 200
    assert phone.get(desk.url("/conversations")).status_code == 200
    assert _login(app.test_client(), desk.admin.email).status_code == 302


def test_a_deactivated_person_is_logged_out_everywhere(app, desk):
    browsers = [app.test_client(), app.test_client()]
    for browser in browsers:
        _login(browser, desk.agent.email)
        assert browser.get(desk.url("/conversations")).status_code == 200
    db.session.get(User, desk.agent.id).is_active = False
    db.session.commit()

    for browser in browsers:
        assert _refused(browser.get(desk.url("/conversations")))
    # Logging in again answers exactly like a wrong password (no hint the account exists).
    again = _login(app.test_client(), desk.agent.email)
    assert again.status_code == 200
    assert BAD_CREDENTIALS in again.get_data(as_text=True)


def test_a_teammate_taken_off_the_team_loses_the_workspace_at_once(app, as_admin, desk):
    agent = app.test_client()
    _login(agent, desk.agent.email)
    assert agent.get(desk.conv_url()).status_code == 200
    removed = as_admin.post(desk.url(f"/settings/team/{desk.agent.id}/remove"))
    assert removed.status_code == 302
    before = _messages()

    assert agent.get(desk.url("/conversations")).status_code == 404
    assert agent.get(desk.conv_url()).status_code == 404
    for action in ("reply", "note"):
        response = agent.post(desk.conv_url(action=action), data={"body": "parting shot"})
        assert response.status_code == 404
    assert _messages() == before
    page = as_admin.get(desk.conv_url()).get_data(as_text=True)
    assert "parting shot" not in page


def test_a_password_link_is_single_use_and_ends_every_session(app, desk):
    phone = app.test_client()
    _login(phone, desk.agent.email)
    old_link = auth_service.create_password_link(desk.agent)  # e.g. leaked from an old email
    link = auth_service.create_password_link(desk.agent)
    browser = app.test_client()
    assert browser.get(f"/set-password/{link}").status_code == 200
    data = {"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    used = browser.post(f"/set-password/{link}", data=data)
    assert used.status_code == 302
    assert browser.get(desk.url("/conversations")).status_code == 200
    assert _refused(phone.get(desk.url("/conversations")))

    # Neither this link nor an older one still lying around can set the password again.
    for raw in (link, old_link):
        stranger = app.test_client()
        assert stranger.get(f"/set-password/{raw}").status_code == 404
        again = stranger.post(f"/set-password/{raw}", data={**data, "new_password": "x" * 12})
        assert again.status_code == 404
        assert "no longer works" in again.get_data(as_text=True)
    unused = db.session.execute(
        select(func.count())
        .select_from(PasswordToken)
        .where(PasswordToken.user_id == desk.agent.id, PasswordToken.used_at.is_(None))
    ).scalar_one()
    assert unused == 0
    assert _login(app.test_client(), desk.agent.email, NEW_PASSWORD).status_code == 302


# --- login throttling ----------------------------------------------------------------------


def test_guessing_is_throttled_without_locking_out_the_owner(app, desk, monkeypatch):
    free = app.config["LOGIN_THROTTLE_FREE_FAILURES"] = FREE
    attacker, owner = app.test_client(), app.test_client()
    answers = [
        _login(attacker, desk.admin.email, f"guess number {n}", ATTACKER).status_code
        for n in range(free + 2)
    ]
    assert answers[:free] == [200] * free
    assert answers[-1] == 429
    blocked = _login(attacker, desk.admin.email, addr=ATTACKER)  # even the right password
    assert blocked.status_code == 429
    retry_after = int(blocked.headers["Retry-After"])
    assert 1 <= retry_after <= app.config["LOGIN_THROTTLE_MAX_DELAY"] + 1
    assert "Too many failed attempts" in blocked.get_data(as_text=True)

    # The real person, from their own address, logs straight in meanwhile.
    assert _login(owner, desk.admin.email, addr=OWNER).status_code == 302
    assert owner.get(desk.url("/conversations")).status_code == 200

    # Once the wait is over, the right password works from the throttled address too.
    later = utcnow() + timedelta(seconds=retry_after + 1)
    monkeypatch.setattr(auth_service, "utcnow", lambda: later)
    assert _login(attacker, desk.admin.email, addr=ATTACKER).status_code == 302


def test_behind_a_trusted_proxy_the_client_address_is_what_counts(app_config, desk):
    """Behind nginx or Caddy every request comes from 127.0.0.1: without the forwarded address
    an attacker's guesses would throttle the owner too."""
    proxied = create_app({**app_config, "TRUSTED_PROXIES": 1, "LOGIN_THROTTLE_FREE_FAILURES": FREE})
    with proxied.app_context():
        free = FREE
        attacker, owner = proxied.test_client(), proxied.test_client()
        via_proxy = {"REMOTE_ADDR": "127.0.0.1"}
        for n in range(free + 1):
            attacker.post(
                "/login",
                data={"email": desk.admin.email, "password": f"guess {n}"},
                headers={"X-Forwarded-For": ATTACKER},
                environ_base=via_proxy,
            )
        refused = attacker.post(
            "/login",
            data={"email": desk.admin.email, "password": factories.PASSWORD},
            headers={"X-Forwarded-For": ATTACKER},
            environ_base=via_proxy,
        )
        assert refused.status_code == 429
        welcome = owner.post(
            "/login",
            data={"email": desk.admin.email, "password": factories.PASSWORD},
            headers={"X-Forwarded-For": OWNER},
            environ_base=via_proxy,
        )
        assert welcome.status_code == 302


def test_without_a_trusted_proxy_a_forged_forwarded_address_changes_nothing(app, desk):
    free = app.config["LOGIN_THROTTLE_FREE_FAILURES"] = FREE
    attacker = app.test_client()
    for n in range(free + 1):
        attacker.post(
            "/login",
            data={"email": desk.admin.email, "password": f"guess {n}"},
            headers={"X-Forwarded-For": f"192.0.2.{n}"},  # a new "address" per guess
            environ_base={"REMOTE_ADDR": ATTACKER},
        )
    assert _login(attacker, desk.admin.email, addr=ATTACKER).status_code == 429


def _comparable(response, email: str) -> str:
    """The page with what legitimately differs taken out: the typed email and CSRF token."""
    text = response.get_data(as_text=True).replace(email, "EMAIL")
    text = TOKEN_RE.sub("CSRF", text)
    return re.sub(r"Try again in \d+ seconds", "Try again in N seconds", text)


def test_known_and_unknown_emails_get_the_same_answer(app, desk):
    known, unknown = desk.admin.email, "nobody-here@acme.test"
    free = app.config["LOGIN_THROTTLE_FREE_FAILURES"] = FREE
    pairs = []
    for n in range(free + 2):  # ordinary failures, then throttled ones
        pairs.append(
            (
                _login(app.test_client(), known, f"guess {n}", ATTACKER),
                _login(app.test_client(), unknown, f"guess {n}", ATTACKER),
            )
        )
    for wrong, missing in pairs:
        assert wrong.status_code == missing.status_code
        assert wrong.headers.get("Retry-After") == missing.headers.get("Retry-After")
        assert _comparable(wrong, known) == _comparable(missing, unknown)
    assert pairs[0][0].status_code == 200 and pairs[-1][0].status_code == 429


def test_unknown_emails_pay_for_a_password_check_too(app, desk, monkeypatch):
    app.config["LOGIN_THROTTLE_FREE_FAILURES"] = 100  # measure hashing, not the throttle
    checked: list[str] = []
    real = passwords._hasher

    class Spy:
        def verify(self, password_hash, password):
            checked.append(password_hash)
            return real.verify(password_hash, password)

    monkeypatch.setattr(passwords, "_hasher", Spy())
    _login(app.test_client(), "nobody-here@acme.test", "a guess", ATTACKER)
    assert checked == [passwords._DUMMY_HASH]
    monkeypatch.undo()
    assert passwords._DUMMY_HASH.startswith("$argon2id$")
    # Same cost parameters as a real account's hash, so the dummy check takes as long.
    assert passwords._DUMMY_HASH.split("$")[3] == factories.password_hash().split("$")[3]

    def timed(email: str) -> float:
        start = time.perf_counter()
        _login(app.test_client(), email, "a guess", ATTACKER)
        return time.perf_counter() - start

    known = min(timed(desk.admin.email) for _ in range(2))
    unknown = min(timed("nobody-here@acme.test") for _ in range(2))
    # Skipping argon2 would make unknown emails ~50x faster; allow for a busy machine.
    assert unknown > known / 4, (known, unknown)


@pytest.mark.parametrize("case", ["inactive", "bot"])
def test_accounts_that_cannot_log_in_answer_like_a_wrong_password(app, desk, case):
    user = factories.make_user(desk.workspace, email=f"{case}@acme.test")
    if case == "inactive":
        user.is_active = False
    else:
        user.kind = "bot"
    db.session.commit()
    right = _login(app.test_client(), user.email, addr=ATTACKER)
    wrong = _login(app.test_client(), desk.admin.email, "not the password", OWNER)
    assert right.status_code == wrong.status_code == 200
    assert _comparable(right, user.email) == _comparable(wrong, desk.admin.email)
