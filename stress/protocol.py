"""Plain JSON-RPC POSTs to /api/mcp in either protocol era, and the inbound hook.

Half the agents speak the 2025-11-25 handshake era (initialize, notifications/initialized,
then tools/call with the MCP-Protocol-Version header), half the stateless 2026-07-28 era
(server/discover, then every request carrying params._meta and the Mcp-Method / Mcp-Name
headers). Both are stateless on the server, so a restarted server serves them without a new
handshake; the agents still redo it after a crash, as a real client reconnecting would.
"""

from __future__ import annotations

import itertools
import json

import httpx2

LEGACY = "2025-11-25"
MODERN = "2026-07-28"
CLIENT_INFO = {"name": "deskwoot-stress", "version": "1"}
_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
}


class RpcFailure(Exception):
    """An answer that is not a successful result (JSON-RPC error or isError tool result)."""

    def __init__(self, status: int, detail: str):
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class McpSession:
    def __init__(self, http: httpx2.Client, url: str, token: str, era: str):
        self.http = http
        self.url = url
        self.era = era
        self._ids = itertools.count(1)
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def _post(self, method: str, params: dict, request_id: str, notification=False):
        headers = {**self._headers, "X-Request-Id": request_id}
        if self.era == MODERN:
            params = {**params, "_meta": _META}
            headers["MCP-Protocol-Version"] = MODERN
            headers["Mcp-Method"] = method
            if method == "tools/call":
                headers["Mcp-Name"] = params["name"]
        elif method != "initialize":
            headers["MCP-Protocol-Version"] = LEGACY
        body = {"jsonrpc": "2.0", "method": method, "params": params}
        if not notification:
            body["id"] = next(self._ids)
        return self.http.post(self.url, content=json.dumps(body), headers=headers)

    def handshake(self, request_id: str) -> httpx2.Response:
        """initialize (+ notifications/initialized) or server/discover."""
        if self.era == MODERN:
            return self._post("server/discover", {}, request_id)
        answer = self._post(
            "initialize",
            {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": CLIENT_INFO},
            request_id,
        )
        if answer.status_code == 200:
            follow_up = self._post(
                "notifications/initialized", {}, request_id + "-n", notification=True
            )
            if follow_up.status_code != 202:
                raise RpcFailure(follow_up.status_code, "notifications/initialized refused")
        return answer

    def call_tool(self, name: str, arguments: dict, request_id: str) -> httpx2.Response:
        return self._post("tools/call", {"name": name, "arguments": arguments}, request_id)


def tool_result(answer: httpx2.Response) -> dict:
    """structuredContent of a successful tools/call answer, else RpcFailure."""
    if answer.status_code != 200:
        raise RpcFailure(answer.status_code, answer.text[:300])
    payload = answer.json()
    if "error" in payload:
        raise RpcFailure(answer.status_code, json.dumps(payload["error"])[:300])
    result = payload["result"]
    if result.get("isError"):
        raise RpcFailure(answer.status_code, json.dumps(result.get("structuredContent"))[:300])
    return result["structuredContent"]


def handshake_result(answer: httpx2.Response) -> dict:
    if answer.status_code != 200 or "result" not in answer.json():
        raise RpcFailure(answer.status_code, answer.text[:300])
    return answer.json()["result"]


def post_inbound(
    http: httpx2.Client, base_url: str, uid: str, secret: str, payload: dict, request_id: str
) -> httpx2.Response:
    return http.post(
        f"{base_url}/hooks/inbound/{uid}",
        content=json.dumps(payload),
        headers={
            "Authorization": f"Bearer {secret}",
            "Content-Type": "application/json",
            "X-Request-Id": request_id,
        },
    )
