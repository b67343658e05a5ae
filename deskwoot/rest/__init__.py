"""The REST API: /api/v1 for integrators holding an API token (ARCHITECTURE §14).

A third adapter over the MCP server's tool layer: `routes` is the route table (one operation
per MCP tool), `binding` reads a request into the tool's arguments, `views` serves it through
mcp/invocation.py, `problems` are its RFC 9457 errors, `headers` its rate-limit, link and
entity-tag headers, `openapi` the generated OpenAPI 3.1 document and `reference` serves that
document and the human-readable reference page.
"""
