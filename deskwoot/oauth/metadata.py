"""Discovery: Protected Resource Metadata (RFC 9728) for /api/mcp and Authorization Server
Metadata (RFC 8414), at every well-known path the MCP clients try."""

from __future__ import annotations

from flask import Blueprint, jsonify

from deskwoot.oauth import urls
from deskwoot.policy import SCOPES

bp = Blueprint("oauth_metadata", __name__)


def _public(response):
    # Browser-based clients (the Inspector) read these cross-origin; they hold nothing secret.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


# RFC 9728 §3.1: the path-suffixed URL for /api/mcp, and the root one older clients try.
@bp.get(urls.PRM_PATH)
@bp.get(urls.PRM_PATH + urls.MCP_PATH)
def protected_resource():
    """Where to get a token for the MCP endpoint, and what it accepts."""
    return _public(
        jsonify(
            resource=urls.resource(),
            authorization_servers=[urls.issuer()],
            scopes_supported=list(SCOPES),
            bearer_methods_supported=["header"],
            resource_name="Deskwoot MCP server",
        )
    )


def authorization_server_metadata() -> dict:
    base = urls.issuer()
    return {
        "issuer": base,
        "authorization_endpoint": base + "/oauth/authorize",
        "token_endpoint": base + "/oauth/token",
        "registration_endpoint": base + "/oauth/register",
        "revocation_endpoint": base + "/oauth/revoke",
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": [
            "none",
            "client_secret_post",
            "client_secret_basic",
        ],
        "revocation_endpoint_auth_methods_supported": [
            "none",
            "client_secret_post",
            "client_secret_basic",
        ],
        # OAuth 2.1 and the MCP spec: PKCE with S256, never plain.
        "code_challenge_methods_supported": ["S256"],
        # MCP 2025-11-25: clients may use an https URL as client_id (Client ID Metadata).
        "client_id_metadata_document_supported": True,
        # RFC 9207: the authorization response names its issuer (mix-up defence).
        "authorization_response_iss_parameter_supported": True,
    }


# RFC 8414 §3, and the OpenID discovery path clients also try (MCP spec, "Authorization
# Server Metadata Discovery"); both with and without the path insertion.
@bp.get("/.well-known/oauth-authorization-server")
@bp.get("/.well-known/openid-configuration")
def authorization_server():
    """How to get a token from Deskwoot."""
    return _public(jsonify(authorization_server_metadata()))
