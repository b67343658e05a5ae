"""Open Dynamic Client Registration is throttled: per address an hour, and capped while too
many registered clients wait for a first grant. Beyond either: 429, Retry-After and an OAuth
error body, never a 500 (oauth/registration_limits.py)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from deskwoot.extensions import db
from deskwoot.models import OAuthClient, OAuthRegistrationLimit, utcnow
from deskwoot.oauth import pruning, registration_limits
from tests.oauth import flow
from tests.oauth.flow import Pkce

METADATA = {
    "client_name": "Throttle Test Client",
    "redirect_uris": [flow.REDIRECT],
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "none",
}


def register_from(client, address: str, metadata: dict | None = None):
    return client.post(
        "/oauth/register", json=metadata or METADATA, environ_base={"REMOTE_ADDR": address}
    )


def clients_count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(OAuthClient))


def assert_throttled(response) -> int:
    assert response.status_code == 429, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "temporarily_unavailable"
    assert body["error_description"]
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 3600 + 24 * 3600 + 300
    return retry_after


def test_the_eleventh_registration_from_one_address_in_an_hour_is_refused(client):
    for n in range(10):
        assert register_from(client, "203.0.113.7").status_code == 201, n
    retry_after = assert_throttled(register_from(client, "203.0.113.7"))
    assert retry_after <= 3600
    assert clients_count() == 10  # the refused one stored nothing
    # Another address has its own count.
    assert register_from(client, "198.51.100.2").status_code == 201
    # Hammering does not push the window further out, nor is it stored.
    assert_throttled(register_from(client, "203.0.113.7"))
    assert clients_count() == 11


def test_a_new_hour_opens_a_new_window(client):
    for _ in range(10):
        assert register_from(client, "203.0.113.7").status_code == 201
    assert_throttled(register_from(client, "203.0.113.7"))
    db.session.execute(
        update(OAuthRegistrationLimit).values(window_start=utcnow() - timedelta(minutes=61))
    )
    db.session.commit()
    assert register_from(client, "203.0.113.7").status_code == 201


def test_a_malformed_registration_is_not_counted(client, app):
    app.config["OAUTH_REGISTRATIONS_PER_HOUR"] = 1
    bad = {**METADATA, "redirect_uris": "not a list"}
    for _ in range(3):
        assert register_from(client, "203.0.113.7", bad).status_code == 400
    assert register_from(client, "203.0.113.7").status_code == 201
    assert_throttled(register_from(client, "203.0.113.7"))


def test_the_cap_on_clients_waiting_for_a_grant(client, app):
    app.config["OAUTH_UNGRANTED_CLIENTS_MAX"] = 3
    for n in range(3):
        assert register_from(client, f"198.51.100.{n}").status_code == 201
    # A fresh address, far under its own limit: the cap alone refuses it.
    retry_after = assert_throttled(register_from(client, "192.0.2.99"))
    # Room comes when the oldest unapproved client is pruned (a day, plus a prune interval).
    assert 24 * 3600 - 60 < retry_after <= 24 * 3600 + 300
    assert clients_count() == 3


def test_a_granted_client_does_not_count_to_the_cap(client, auth, desk, app):
    app.config["OAUTH_UNGRANTED_CLIENTS_MAX"] = 2
    granted = flow.register(client)
    flow.register(client, name="Waiting")
    assert_throttled(register_from(client, "192.0.2.1"))
    auth.login(desk.admin.email)
    flow.code_from(
        flow.approve(client, flow.authorize_query(granted, Pkce.new()), desk.workspace.id)
    )
    assert register_from(client, "192.0.2.1").status_code == 201
    assert_throttled(register_from(client, "192.0.2.2"))  # two waiting again


def test_pruning_clears_windows_that_have_ended(client):
    assert register_from(client, "203.0.113.7").status_code == 201
    assert register_from(client, "198.51.100.2").status_code == 201
    # One row per address, and the shared one that serialises registrations.
    assert db.session.scalar(select(func.count()).select_from(OAuthRegistrationLimit)) == 3
    assert pruning.prune().registration_limits == 0
    later = utcnow() + registration_limits.WINDOW + timedelta(seconds=1)
    assert pruning.prune(now=later).registration_limits == 3
    assert db.session.scalar(select(func.count()).select_from(OAuthRegistrationLimit)) == 0


def test_concurrent_registrations_never_exceed_the_limit(app, client):
    """Requests racing each other (threads, each its own connection) still stop at the
    limit: the count is one atomic upsert, not a read then a write."""
    import threading

    app.config["OAUTH_REGISTRATIONS_PER_HOUR"] = 5
    statuses: list[int] = []

    def register() -> None:
        with app.app_context():
            statuses.append(register_from(app.test_client(), "203.0.113.7").status_code)
            db.session.remove()

    threads = [threading.Thread(target=register) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [201] * 5 + [429] * 7
    assert clients_count() == 5
