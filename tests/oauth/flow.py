"""The authorization flow step by step through the Flask test client, for the cases a real
client would never send: each step is a plain function the hostile tests vary."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

RESOURCE = "http://localhost/api/mcp"  # PUBLIC_URL of the test app + /api/mcp
REDIRECT = "http://127.0.0.1:9/callback"


def challenge_for(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def register(client, name: str = "Hostile Test Client", redirect_uris=(REDIRECT,)) -> str:
    response = client.post(
        "/oauth/register",
        json={
            "client_name": name,
            "redirect_uris": list(redirect_uris),
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        },
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["client_id"]


@dataclass
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)
        return cls(verifier, challenge_for(verifier))


def authorize_query(client_id: str, pkce: Pkce | None, **overrides) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "state": "st4te",
        "resource": RESOURCE,
        "scope": "conversations:read",
    }
    if pkce is not None:
        params.update(code_challenge=pkce.challenge, code_challenge_method="S256")
    params.update(overrides)
    return "/oauth/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})


def approve(client, url: str, workspace_id: int, scopes=("conversations:read",), inboxes=()):
    """POST the consent form (CSRF off in the `app` fixture) and return the response."""
    data = {"workspace": workspace_id, "scopes": list(scopes), "approve": "1"}
    if inboxes:
        data["inboxes"] = list(inboxes)
    return client.post(url, data=data)


def code_from(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["state"] == ["st4te"]
    assert query["iss"] == ["http://localhost"]  # RFC 9207
    return query["code"][0]


def exchange(client, client_id: str, code: str, verifier: str | None, **extra):
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": client_id,
        "resource": RESOURCE,
    }
    if verifier is not None:
        data["code_verifier"] = verifier
    data.update(extra)
    return client.post("/oauth/token", data={k: v for k, v in data.items() if v is not None})


def refresh(client, client_id: str, refresh_token: str, **extra):
    data = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": client_id,
        "resource": RESOURCE,
    }
    data.update(extra)
    return client.post("/oauth/token", data=data)


def call(client, access_token: str, method: str = "tools/list"):
    return client.post(
        "/api/mcp",
        data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": method}),
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "Authorization": f"Bearer {access_token}",
        },
    )


def full(client, auth, desk, **approve_kwargs) -> tuple[str, dict]:
    """Register, log in as the admin, approve, exchange: (client_id, token response)."""
    client_id = register(client)
    auth.login(desk.admin.email)
    pkce = Pkce.new()
    code = code_from(
        approve(client, authorize_query(client_id, pkce), desk.workspace.id, **approve_kwargs)
    )
    response = exchange(client, client_id, code, pkce.verifier)
    assert response.status_code == 200, response.get_data(as_text=True)
    return client_id, response.get_json()
