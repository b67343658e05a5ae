"""The peer: the official SDK's MCPServer (stateless HTTP, JSON responses) with an echo tool.

    BENCH_PEER_TOKEN=... uvicorn bench.peer:app --workers 4 --host 127.0.0.1 --port PORT

What a developer would otherwise reach for (ARCHITECTURE §11). A bearer check in front keeps the
comparison fair: Deskwoot checks a token on every request too.
"""

from __future__ import annotations

import os
from typing import TypedDict

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from starlette.responses import JSONResponse

mcp = MCPServer(
    "echo-peer", version="1.0.0", instructions="Echo server for the benchmark.", log_level="WARNING"
)


class EchoOut(TypedDict):
    text: str


@mcp.tool(
    name="echo",
    title="Echo",
    description="Echo the text back.",
    annotations=ToolAnnotations(
        read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    ),
)
def echo(text: str) -> EchoOut:
    return {"text": text}


def build_app(token: str):
    """The SDK's Starlette app behind a bearer-token check (lifespan passes through)."""
    inner = mcp.streamable_http_app(
        streamable_http_path="/mcp", json_response=True, stateless_http=True
    )
    expected = f"Bearer {token}".encode()

    async def bearer_gate(scope, receive, send):
        if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization") != expected:
            response = JSONResponse(
                {
                    "jsonrpc": "2.0",
                    "id": None,
                    "error": {"code": -32001, "message": "Unauthorized"},
                },
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
            return await response(scope, receive, send)
        return await inner(scope, receive, send)

    return bearer_gate


app = build_app(os.environ.get("BENCH_PEER_TOKEN", "bench-peer-token"))
