"""The MCP server: /api/mcp for AI agents holding a scoped bot token (DESIGN §5)."""

from __future__ import annotations


def init_app(app) -> None:
    from deskwoot.mcp import transport

    app.register_blueprint(transport.bp)
