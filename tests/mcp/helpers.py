"""Shared helpers for the end-to-end MCP tests (live gunicorn + the official client)."""

from __future__ import annotations

import contextvars
import itertools
import json
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

import anyio
import httpx2
from mcp import MCPError
from sqlalchemy import func, select

from deskwoot.extensions import db
from deskwoot.models import AuditEntry, Conversation, McpToken
from deskwoot.services.access.random_secrets import digest

LEGACY_VERSION = "2025-11-25"
# What a read_only token sees in tools/list, in the server's order.
READ_TOOLS = [
    "whoami",
    "list_inboxes",
    "list_labels",
    "list_conversations",
    "search_conversations",
    "get_conversation",
    "search_contacts",
    "get_contact",
    "poll_events",
]
# Every 401 also points OAuth clients at the resource's metadata (RFC 9728; PUBLIC_URL of the
# live server, see tests/mcp/server.py).
CHALLENGE = (
    'Bearer realm="deskwoot", error="invalid_token", '
    'resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource/api/mcp"'
)
_ids = itertools.count(1)


def run(fn: Callable[..., Awaitable], *args):
    """Run an async client scenario to completion in its own thread.

    Playwright's sync API keeps an asyncio loop in the main thread for the whole session
    (browser tests run first), and anyio refuses to start a second loop there.
    """
    context = contextvars.copy_context()  # keep the test's app context in the thread
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(context.run, anyio.run, fn, *args).result()


def fresh() -> None:
    """Forget cached rows and end the read snapshot: the server writes in other processes."""
    db.session.rollback()
    db.session.expire_all()


async def ok(client, tool: str, arguments: dict | None = None) -> dict:
    """Call a tool through the official client; it must succeed. Returns structuredContent."""
    result = await client.call_tool(tool, arguments or {})
    assert not result.is_error, f"{tool} failed: {result.structured_content}"
    assert result.structured_content is not None
    return result.structured_content


def tool_error(result: dict) -> dict:
    """The `{"code", "message", …}` of a raw isError tools/call result.

    An error result carries no structuredContent (it would not match the tool's outputSchema,
    and strict clients would hide the message behind a schema complaint); the error object
    travels as JSON in the text block, which is what every client shows the agent."""
    assert result["isError"] is True, result
    assert "structuredContent" not in result, result
    error = json.loads(result["content"][0]["text"])["error"]
    assert error["code"] and error["message"], result
    return error


async def fails(client, tool: str, arguments: dict | None = None) -> dict:
    """Call a tool that must answer with an isError business result; returns its error."""
    result = await client.call_tool(tool, arguments or {})
    assert result.is_error, f"{tool} unexpectedly succeeded: {result.structured_content}"
    assert result.structured_content is None, result
    return tool_error(result.model_dump(by_alias=True, exclude_none=True))


async def rpc_error(client, tool: str, arguments: dict | None = None) -> MCPError:
    """Call a tool that must fail with a JSON-RPC error; returns the MCPError."""
    try:
        await client.call_tool(tool, arguments or {})
    except MCPError as exc:
        return exc
    raise AssertionError(f"{tool} did not raise MCPError")


async def walk(client, tool: str, args: dict, key: str) -> list[dict]:
    """Follow next_cursor to the end; every page but the last must say has_more."""
    items, cursor, pages = [], None, 0
    while True:
        page = await ok(client, tool, {**args, **({"cursor": cursor} if cursor else {})})
        items.extend(page[key])
        pages += 1
        assert pages < 50
        if not page["has_more"]:
            assert page["next_cursor"] is None
            return items
        assert page["next_cursor"]
        cursor = page["next_cursor"]


def text_of(result) -> str:
    return "".join(block.text for block in result.content if block.type == "text")


def leaves(group: BaseException) -> list[BaseException]:
    """The non-group exceptions inside a (nested) ExceptionGroup."""
    if isinstance(group, BaseExceptionGroup):
        return [leaf for inner in group.exceptions for leaf in leaves(inner)]
    return [group]


def mcp_error_in(group: BaseException) -> MCPError:
    errors = [e for e in leaves(group) if isinstance(e, MCPError)]
    assert errors, f"no MCPError in {group!r}"
    return errors[0]


# --- raw JSON-RPC over HTTP (legacy era, stateless: no initialize needed) -------------------


def rpc_body(method: str, params: dict | None = None, request_id: int | None = None) -> dict:
    return {
        "jsonrpc": "2.0",
        "id": next(_ids) if request_id is None else request_id,
        "method": method,
        "params": params or {},
    }


def raw_headers(token: str | None) -> dict:
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "MCP-Protocol-Version": LEGACY_VERSION,
    }
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


async def raw_call(
    http: httpx2.AsyncClient, url: str, token: str | None, tool: str, arguments: dict
) -> httpx2.Response:
    """POST one tools/call in the legacy era."""
    body = rpc_body("tools/call", {"name": tool, "arguments": arguments})
    return await http.post(url, content=json.dumps(body), headers=raw_headers(token))


# --- database checks -----------------------------------------------------------------------


def token_row(workspace_id: int, plaintext: str) -> McpToken:
    """The stored row of the token minted as `plaintext` (found by its hash)."""
    fresh()
    return db.session.execute(
        select(McpToken).where(
            McpToken.workspace_id == workspace_id, McpToken.token_hash == digest(plaintext)
        )
    ).scalar_one()


def conversation_row(ws, display_id: int) -> Conversation:
    return db.session.execute(
        select(Conversation).where(
            Conversation.workspace_id == ws.id, Conversation.display_id == display_id
        )
    ).scalar_one()


def audit_outcomes(workspace_id: int, action: str, token_id: int | None = None) -> list[str]:
    """Outcomes of the workspace's audit entries for `action`, oldest first (read fresh)."""
    fresh()
    query = select(AuditEntry.outcome).where(
        AuditEntry.workspace_id == workspace_id, AuditEntry.action == action
    )
    if token_id is not None:
        query = query.where(AuditEntry.token_id == token_id)
    return list(db.session.execute(query.order_by(AuditEntry.id)).scalars())


def count(model, *where) -> int:
    """How many rows match, read fresh."""
    fresh()
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
