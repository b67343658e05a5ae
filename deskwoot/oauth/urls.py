"""Where the protected resource and the authorization server are, from PUBLIC_URL."""

from __future__ import annotations

from flask import current_app

MCP_PATH = "/api/mcp"
PRM_PATH = "/.well-known/oauth-protected-resource"


def issuer() -> str:
    """The authorization server's issuer identifier: Deskwoot itself (RFC 8414 §2)."""
    return current_app.config["PUBLIC_URL"]


def resource() -> str:
    """The one resource tokens are issued for (RFC 8707): the MCP endpoint."""
    return issuer() + MCP_PATH


def resource_metadata() -> str:
    """The Protected Resource Metadata URL every 401 from /api/mcp points at (RFC 9728 §5.1)."""
    return issuer() + PRM_PATH + MCP_PATH


def same_resource(requested: str | None) -> bool:
    """Whether a client's `resource` names our MCP endpoint; absent means ours (there is one)."""
    if requested is None or requested == "":
        return True
    return requested.rstrip("/") == resource()
