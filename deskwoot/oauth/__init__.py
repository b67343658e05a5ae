"""OAuth 2.1 authorization for the MCP server (DESIGN §13, issue 16).

Connectors that speak the MCP authorization flow discover Deskwoot from the 401 of /api/mcp
(RFC 9728 metadata), identify themselves by a Client ID Metadata Document or register (RFC
7591), send an admin to the consent screen, and exchange the code (PKCE S256, RFC 8707
resource) for a short-lived access token and a rotating refresh token.

The consent is the mint screen: approving creates a grant, an `mcp_tokens` row of kind
"oauth" with the scopes and inboxes the admin chose, so the gate, policy, audit, suspension and
revocation treat it exactly like a bot token. Authlib does the protocol (server.py); this
package adds only what is Deskwoot's: where things are stored, who may consent, and the SSRF
guard around fetching client documents.
"""

from __future__ import annotations

from flask import Flask


def install(app: Flask) -> None:
    """Add the well-known metadata, the authorization server's endpoints and the consent page."""
    from deskwoot.extensions import csrf
    from deskwoot.oauth import metadata, server, views

    server.authorization_server.init_app(app)
    app.register_blueprint(metadata.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(views.client_bp)
    app.register_blueprint(views.settings_bp)
    # The token, registration and revocation endpoints are for clients, not browsers: they
    # carry no session cookie, so CSRF does not apply (the consent form keeps its token).
    csrf.exempt(views.client_bp)
    app.context_processor(views.settings_context)
