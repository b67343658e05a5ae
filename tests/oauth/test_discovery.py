"""Discovery: every 401 from /api/mcp names the Protected Resource Metadata (RFC 9728), which
names Deskwoot as the authorization server, whose metadata (RFC 8414) is served at the paths
the MCP clients try."""

from __future__ import annotations

import json

import pytest

from deskwoot.policy import SCOPES, member_actor
from deskwoot.services.access import tokens

PRM_URL = "http://localhost/.well-known/oauth-protected-resource/api/mcp"


def test_a_401_points_at_the_resource_metadata(client):
    response = client.post(
        "/api/mcp",
        data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    assert response.status_code == 401
    assert f'resource_metadata="{PRM_URL}"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    "path",
    ["/.well-known/oauth-protected-resource/api/mcp", "/.well-known/oauth-protected-resource"],
)
def test_protected_resource_metadata(client, path):
    document = client.get(path).get_json()
    assert document["resource"] == "http://localhost/api/mcp"
    assert document["authorization_servers"] == ["http://localhost"]
    assert document["scopes_supported"] == list(SCOPES)
    assert document["bearer_methods_supported"] == ["header"]


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]
)
def test_authorization_server_metadata(client, path):
    document = client.get(path).get_json()
    assert document["issuer"] == "http://localhost"
    for endpoint in ("authorization", "token", "registration", "revocation"):
        assert document[f"{endpoint}_endpoint"].startswith("http://localhost/oauth/")
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["response_types_supported"] == ["code"]
    assert set(document["grant_types_supported"]) == {"authorization_code", "refresh_token"}
    assert document["client_id_metadata_document_supported"] is True
    assert "none" in document["token_endpoint_auth_methods_supported"]


def test_a_missing_scope_challenge_names_the_scope_and_the_resource_metadata(client, desk):
    """The 403 step-up challenge tells an OAuth client which scope to ask for and where the
    resource's metadata is (MCP authorization, "Scope Challenge Handling")."""
    admin = member_actor(desk.admin, desk.workspace)  # mint takes an actor, not a User
    reader = tokens.mint(admin, "Reader", ["conversations:read"]).plaintext
    response = client.post(
        "/api/mcp",
        data=json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {
                    "name": "add_private_note",
                    "arguments": {"conversation_id": 1, "body": "hi"},
                },
            }
        ),
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": f"Bearer {reader}",
        },
    )
    assert response.status_code == 403
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="deskwoot", error="insufficient_scope"')
    assert 'scope="conversations:note"' in challenge
    assert f'resource_metadata="{PRM_URL}"' in challenge
