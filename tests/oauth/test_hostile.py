"""What a hostile or broken client tries gets a clear OAuth error and nothing else: PKCE
missing or wrong, a code used twice, a redirect URI that does not match, a token for another
resource, a refresh token replayed, a consent without its CSRF token or from a non-admin."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from deskwoot.extensions import db
from deskwoot.models import McpToken, OAuthToken
from tests import factories
from tests.oauth import flow
from tests.oauth.flow import Pkce

TOKEN_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def grants_count() -> int:
    db.session.rollback()
    return db.session.scalar(
        select(func.count()).select_from(McpToken).where(McpToken.kind == "oauth")
    )


def error_of(response) -> str:
    return response.get_json()["error"]


def redirected_error(response) -> str:
    assert response.status_code == 302
    return parse_qs(urlsplit(response.headers["Location"]).query)["error"][0]


def test_the_happy_path_opens_the_mcp_server(client, auth, desk):
    _, token = flow.full(client, auth, desk)
    assert token["token_type"].lower() == "bearer"
    assert token["access_token"].startswith("dw_oat_")
    assert token["refresh_token"].startswith("dw_ort_")
    assert token["scope"] == "conversations:read"
    assert token["expires_in"] == 3600
    listed = flow.call(client, token["access_token"]).get_json()["result"]["tools"]
    assert "list_conversations" in {t["name"] for t in listed}
    assert "reply_to_conversation" not in {t["name"] for t in listed}  # not approved


@pytest.mark.parametrize(
    "pkce_params",
    [
        {"code_challenge": None, "code_challenge_method": None},  # no PKCE at all
        {"code_challenge_method": "plain"},
        {"code_challenge_method": None},  # defaults to plain: refused, S256 only
    ],
)
def test_authorization_without_s256_pkce_is_refused(client, auth, desk, pkce_params):
    client_id = flow.register(client)
    auth.login(desk.admin.email)
    url = flow.authorize_query(client_id, Pkce.new(), **pkce_params)
    assert redirected_error(client.get(url)) == "invalid_request"
    assert redirected_error(flow.approve(client, url, desk.workspace.id)) == "invalid_request"
    assert grants_count() == 0


@pytest.mark.parametrize("verifier", [None, "wrong-" + "v" * 50])
def test_a_missing_or_wrong_code_verifier_gets_no_token(client, auth, desk, verifier):
    client_id = flow.register(client)
    auth.login(desk.admin.email)
    pkce = Pkce.new()
    code = flow.code_from(
        flow.approve(client, flow.authorize_query(client_id, pkce), desk.workspace.id)
    )
    response = flow.exchange(client, client_id, code, verifier)
    assert response.status_code == 400
    assert error_of(response) in ("invalid_grant", "invalid_request")
    assert db.session.scalar(select(func.count()).select_from(OAuthToken)) == 0


def test_a_code_used_twice_revokes_what_the_first_use_got(client, auth, desk):
    client_id = flow.register(client)
    auth.login(desk.admin.email)
    pkce = Pkce.new()
    code = flow.code_from(
        flow.approve(client, flow.authorize_query(client_id, pkce), desk.workspace.id)
    )
    first = flow.exchange(client, client_id, code, pkce.verifier)
    assert first.status_code == 200
    assert flow.call(client, first.get_json()["access_token"]).status_code == 200
    again = flow.exchange(client, client_id, code, pkce.verifier)
    assert again.status_code == 400 and error_of(again) == "invalid_grant"
    assert flow.call(client, first.get_json()["access_token"]).status_code == 401


def test_a_redirect_uri_that_is_not_registered_is_never_redirected_to(client, auth, desk):
    client_id = flow.register(client)
    auth.login(desk.admin.email)
    for evil in ("https://evil.example/cb", flow.REDIRECT + "/extra", flow.REDIRECT + "?x=1"):
        url = flow.authorize_query(client_id, Pkce.new(), redirect_uri=evil)
        for response in (client.get(url), flow.approve(client, url, desk.workspace.id)):
            assert response.status_code == 400
            assert "Location" not in response.headers
    assert grants_count() == 0


def test_the_token_request_must_repeat_the_redirect_uri(client, auth, desk):
    client_id = flow.register(client, redirect_uris=(flow.REDIRECT, "http://127.0.0.1:9/other"))
    auth.login(desk.admin.email)
    pkce = Pkce.new()
    code = flow.code_from(
        flow.approve(client, flow.authorize_query(client_id, pkce), desk.workspace.id)
    )
    response = flow.exchange(
        client, client_id, code, pkce.verifier, redirect_uri="http://127.0.0.1:9/other"
    )
    assert response.status_code == 400 and error_of(response) == "invalid_grant"


def test_a_token_for_another_resource_is_refused(client, auth, desk, app):
    client_id = flow.register(client)
    auth.login(desk.admin.email)
    url = flow.authorize_query(client_id, Pkce.new(), resource="https://other.example/api/mcp")
    assert redirected_error(client.get(url)) == "invalid_target"
    # A code for us cannot be exchanged for a token naming another resource...
    pkce = Pkce.new()
    code = flow.code_from(
        flow.approve(client, flow.authorize_query(client_id, pkce), desk.workspace.id)
    )
    response = flow.exchange(
        client, client_id, code, pkce.verifier, resource="https://other.example/api/mcp"
    )
    assert response.status_code == 400 and error_of(response) == "invalid_target"
    # ...and a token issued for this server under another address is refused here.
    _, token = flow.full(client, auth, desk)
    assert flow.call(client, token["access_token"]).status_code == 200
    app.config["PUBLIC_URL"] = "https://moved.example"
    assert flow.call(client, token["access_token"]).status_code == 401


def test_refresh_rotates_and_a_replayed_refresh_token_revokes_the_grant(client, auth, desk):
    client_id, token = flow.full(client, auth, desk)
    rotated = flow.refresh(client, client_id, token["refresh_token"])
    assert rotated.status_code == 200
    fresh = rotated.get_json()
    assert fresh["refresh_token"] != token["refresh_token"]
    assert flow.call(client, token["access_token"]).status_code == 401  # retired with its refresh
    assert flow.call(client, fresh["access_token"]).status_code == 200
    replay = flow.refresh(client, client_id, token["refresh_token"])
    assert replay.status_code == 400 and error_of(replay) == "invalid_grant"
    # Two parties held that refresh token: the whole grant is gone, the new tokens too.
    assert flow.call(client, fresh["access_token"]).status_code == 401
    assert flow.refresh(client, client_id, fresh["refresh_token"]).status_code == 400
    db.session.rollback()
    grant = db.session.execute(select(McpToken).where(McpToken.kind == "oauth")).scalar_one()
    assert grant.revoked_at is not None


def test_another_clients_refresh_token_is_refused(client, auth, desk):
    _, token = flow.full(client, auth, desk)
    other = flow.register(client, name="Other client")
    response = flow.refresh(client, other, token["refresh_token"])
    assert response.status_code == 400 and error_of(response) == "invalid_grant"


def test_a_non_admin_sees_that_an_admin_must_approve_and_cannot(client, auth, desk):
    client_id = flow.register(client)
    auth.login(desk.agent.email)
    url = flow.authorize_query(client_id, Pkce.new())
    page = client.get(url)
    assert page.status_code == 200
    assert "An admin must approve this" in page.get_data(as_text=True)
    response = flow.approve(client, url, desk.workspace.id)
    assert response.status_code == 403
    assert "Location" not in response.headers
    assert grants_count() == 0


def test_the_consent_needs_its_csrf_token(csrf_app, desk):
    browser = csrf_app.test_client()
    client_id = flow.register(browser)  # the client endpoints need none (no cookie)
    token = TOKEN_RE.search(browser.get("/login").get_data(as_text=True)).group(1)
    login = {"email": desk.admin.email, "password": factories.PASSWORD, "csrf_token": token}
    assert browser.post("/login", data=login).status_code == 302
    url = flow.authorize_query(client_id, Pkce.new())
    page = browser.get(url).get_data(as_text=True)
    assert "consent-approve" in page
    good = TOKEN_RE.search(page).group(1)
    for forged in ({}, {"csrf_token": "forged"}):
        response = browser.post(
            url,
            data={
                "workspace": desk.workspace.id,
                "scopes": ["conversations:read"],
                "approve": "1",
                **forged,
            },
        )
        assert response.status_code == 400
        assert "Location" not in response.headers
    assert grants_count() == 0
    response = browser.post(
        url,
        data={
            "workspace": desk.workspace.id,
            "scopes": ["conversations:read"],
            "approve": "1",
            "csrf_token": good,
        },
    )
    assert response.status_code == 302 and "code=" in response.headers["Location"]
    assert grants_count() == 1


def test_a_workspace_without_the_mcp_plan_cannot_approve(client, auth, desk):
    desk.workspace.plan = "business"
    db.session.commit()
    client_id = flow.register(client)
    auth.login(desk.admin.email)
    url = flow.authorize_query(client_id, Pkce.new())
    assert "consent-locked" in client.get(url).get_data(as_text=True)
    response = flow.approve(client, url, desk.workspace.id)
    assert response.status_code == 422
    assert "Enterprise" in response.get_data(as_text=True)
    assert grants_count() == 0


def test_deny_sends_the_client_away_with_access_denied(client, auth, desk):
    client_id = flow.register(client)
    auth.login(desk.admin.email)
    url = flow.authorize_query(client_id, Pkce.new())
    response = client.post(url, data={"workspace": desk.workspace.id, "deny": "1"})
    assert redirected_error(response) == "access_denied"
    assert grants_count() == 0


def test_the_client_can_give_up_its_grant(client, auth, desk):
    client_id, token = flow.full(client, auth, desk)
    response = client.post(
        "/oauth/revoke", data={"token": token["refresh_token"], "client_id": client_id}
    )
    assert response.status_code == 200
    assert flow.call(client, token["access_token"]).status_code == 401
    assert flow.refresh(client, client_id, token["refresh_token"]).status_code == 400
