"""The MCP server: /api/mcp for AI agents holding a scoped bot token (ARCHITECTURE §3-§5).

`transport` is the endpoint (its blueprint is registered by the app factory), `gate` renders
the bearer check's refusals, `calls` runs a tools/call, `registry` and `tools` are the tools.
"""
