"""The scenarios: what wrk sends (bench/lua/*.lua) and a sample check of each before the load.

Every scenario is checked once with urllib before it is loaded: the answer must be a 200
with a JSON-RPC result (and isError false for a tool call), or the page itself, so that a
fast stream of error answers can never pass for a result.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import secrets
import sqlite3
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).resolve().parent / "lua"
SAMPLE_REPLY = "Thanks for reaching out. We are looking into it."


@dataclass(frozen=True)
class Scenario:
    name: str
    script: str
    kind: str  # read | search | write | html | reference
    path: str = "/api/mcp"
    tool: str | None = None  # tools/call name; None for tools/list, pages and references
    with_worker: bool = False  # a `deskwoot worker` delivers beside the server meanwhile
    # The REST API's scenarios name the MCP scenario they mirror; the report compares the two.
    rest_twin_of: str | None = None

    @property
    def is_mcp(self) -> bool:
        return self.kind in ("read", "search", "write") and self.rest_twin_of is None

    @property
    def is_rest(self) -> bool:
        return self.rest_twin_of is not None


DESKWOOT = (
    Scenario("tools/list", "tools_list.lua", "read"),
    Scenario("get_conversation", "get_conversation.lua", "read", tool="get_conversation"),
    Scenario(
        "REST GET /conversations/{id}",
        "rest_get_conversation.lua",
        "read",
        path="/api/v1/conversations/1",
        rest_twin_of="get_conversation",
    ),
    Scenario("list_conversations", "list_conversations.lua", "read", tool="list_conversations"),
    Scenario(
        "REST GET /conversations",
        "rest_list_conversations.lua",
        "read",
        path="/api/v1/conversations",
        rest_twin_of="list_conversations",
    ),
    Scenario(
        "search_conversations", "search_conversations.lua", "search", tool="search_conversations"
    ),
    Scenario("poll_events", "poll_events.lua", "read", tool="poll_events"),
    Scenario("page: conversation list", "page.lua", "html", path="/w/bench/conversations"),
    Scenario("page: drafts queue", "page.lua", "html", path="/w/bench/drafts"),
    # Last: it writes, and nothing read afterwards should see its rows.
    Scenario(
        "reply_to_conversation", "reply_to_conversation.lua", "write", tool="reply_to_conversation"
    ),
    Scenario(
        "REST POST /conversations/{id}/messages",
        "rest_reply.lua",
        "write",
        path="/api/v1/conversations/1/messages",
        rest_twin_of="reply_to_conversation",
    ),
    # The same while a delivery worker drains the outbox the replies fill: a reply's latency
    # must not include delivery, and the worker's writes must not stall the replies.
    Scenario(
        "reply_to_conversation (worker running)",
        "reply_to_conversation.lua",
        "write",
        tool="reply_to_conversation",
        with_worker=True,
    ),
)
CEILING = Scenario("ceiling (bare Flask JSON-RPC)", "ceiling.lua", "reference", path="/rpc")
CEILING_AGAIN = Scenario("ceiling, again at the end", "ceiling.lua", "reference", path="/rpc")
PEER = Scenario("peer (SDK MCPServer echo)", "echo.lua", "reference", path="/mcp", tool="echo")
# uvicorn leaves Nagle on (asyncio only sets TCP_NODELAY on sockets whose proto is
# IPPROTO_TCP, and uvicorn's is 0), so each keep-alive request waits ~40 ms for a delayed
# ACK and 16 connections cap the peer's rate; 64 connections show its CPU-bound rate.
PEER_WIDE = Scenario("peer, 64 connections", "echo.lua", "reference", path="/mcp", tool="echo")


@dataclass
class Target:
    """What the scripts need to know about one running Deskwoot and its data."""

    base_url: str
    token: str  # the MCP token
    conversations: int
    inbox_ids: list[int]
    queries: list[str]
    cursor: str = ""
    cursor_after: int = 0  # the event id the cursor points after
    cookie: str = ""
    api_token: str = ""  # a dw_api_ token with the same scopes (bench/api_token.py)

    def env(self) -> dict:
        return {
            "BENCH_LUA": str(LUA),
            "BENCH_TOKEN": self.token,
            "BENCH_API_TOKEN": self.api_token,
            "BENCH_COOKIE": self.cookie,
            "BENCH_CONVERSATIONS": str(self.conversations),
            "BENCH_INBOXES": ",".join(map(str, self.inbox_ids)),
            "BENCH_QUERIES": "|".join(self.queries),
            "BENCH_CURSOR": self.cursor,
        }


class SkipScenario(Exception):
    """The scenario cannot run on this build (e.g. the page does not exist yet)."""


class ScenarioFailed(Exception):
    """The sample request did not get a successful answer: an app bug to report."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def post_rpc(url: str, token: str, method: str, params: dict) -> tuple[int, dict | str]:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback http only
        url,
        data=body,
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")[:500]


def get_page(url: str, cookie: str) -> tuple[int, str]:
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(  # noqa: S310 - loopback URL we built
        url, headers={"Cookie": cookie, "Accept": "text/html"}
    )
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def login(base_url: str, email: str, password: str) -> str:
    """Log in through /login with its CSRF token; return the Cookie header for wrk."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base_url + "/login", timeout=30).read().decode()
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', page)
    csrf = re.search(r'value="([^"]*)"', tag.group(0)) if tag else None
    if csrf is None:
        raise ScenarioFailed("no csrf_token field on /login")
    form = urllib.parse.urlencode(
        {"csrf_token": csrf.group(1), "email": email, "password": password, "next": ""}
    ).encode()
    opener.open(base_url + "/login", data=form, timeout=30).read()
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    status, _ = get_page(base_url + "/w/bench/conversations", cookie)
    if status != 200:
        raise ScenarioFailed(f"login did not stick: /w/bench/conversations answered {status}")
    return cookie


def poll_cursor(db_path: Path, workspace_id: int, secret: str, back: int = 1000) -> tuple[str, int]:
    """A poll_events cursor `back` events before the newest, and the id it points after.

    Made with the server's own deskwoot.mcp.cursors.encode and its secret key — the same
    signed cursor a poll that stopped there would have returned (there is no way to page
    backwards through the feed, and the 24-hour window of a cursor-less poll moves with the
    age of the cached database). sample_check() then proves the server accepts it.
    """
    from flask import Flask

    from deskwoot.mcp import cursors

    with sqlite3.connect(db_path) as conn:
        newest = (
            conn.execute(
                "SELECT max(id) FROM events WHERE workspace_id = ?", (workspace_id,)
            ).fetchone()[0]
            or 0
        )
    after = max(0, newest - back)
    app = Flask("bench-cursor")
    app.config["SECRET_KEY"] = secret
    with app.app_context():
        cursor = cursors.encode(workspace_id, "events", {"types": []}, [after, int(time.time())])
    return cursor, after


def sample_arguments(scenario: Scenario, target: Target) -> dict:
    return {
        "get_conversation": {"conversation_id": 1},
        "list_conversations": {"status": "open", "inbox_id": target.inbox_ids[0]},
        "search_conversations": {"query": target.queries[0]},
        "poll_events": {"cursor": target.cursor},
        "reply_to_conversation": {
            "conversation_id": 1,
            "body": SAMPLE_REPLY,
            "idempotency_key": "bench-sample-" + secrets.token_hex(6),
        },
        "echo": {"text": "hello"},
    }[scenario.tool]


def page_sizes(scenario: Scenario, url: str, target: Target) -> str:
    """The mean page size over every variant the script draws from (pages differ by data)."""
    if scenario.tool == "list_conversations":
        variants = [
            {"status": s, "inbox_id": i}
            for s in ("open", "pending", "snoozed", "resolved")
            for i in target.inbox_ids
        ]
    else:
        variants = [{"query": q} for q in target.queries]
    sizes = []
    for arguments in variants:
        status, answer = post_rpc(
            url, target.token, "tools/call", {"name": scenario.tool, "arguments": arguments}
        )
        result = answer.get("result", {}) if isinstance(answer, dict) else {}
        if status != 200 or result.get("isError") or "structuredContent" not in result:
            raise ScenarioFailed(
                f"{scenario.tool} {arguments} answered HTTP {status}: {json.dumps(answer)[:500]}"
            )
        sizes.append(len(result["structuredContent"].get("conversations", [])))
    return f"{sum(sizes) / len(sizes):.1f} conversations/page over {len(sizes)} variants"


def rest_request(url: str, token: str, method: str = "GET", body: dict | None = None):
    """One REST API request as the scripts send it: (HTTP status, parsed JSON or text)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Accept", "application/json")
    if body is not None:
        request.add_header("Content-Type", "application/json")
        request.add_header("Idempotency-Key", "bench-sample-" + secrets.token_hex(6))
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback
            status, text = answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode(errors="replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def _rest_sample(scenario: Scenario, url: str, target: Target) -> str:
    if not target.api_token:
        raise ScenarioFailed("no REST API token was minted for this run")
    if scenario.kind == "write":
        status, answer = rest_request(url, target.api_token, "POST", {"body": SAMPLE_REPLY})
    elif scenario.rest_twin_of == "list_conversations":
        status, answer = rest_request(
            f"{url}?status=open&inbox_id={target.inbox_ids[0]}", target.api_token
        )
    else:
        status, answer = rest_request(url, target.api_token)
    if status == 404 and not isinstance(answer, dict):
        raise SkipScenario(f"{scenario.path} answered 404 (no REST API in this build)")
    if not 200 <= status < 300 or not isinstance(answer, dict):
        raise ScenarioFailed(f"{scenario.name} answered HTTP {status}: {json.dumps(answer)[:500]}")
    if "conversations" in answer:
        return f"{len(answer['conversations'])} conversations"
    if "messages" in answer:
        return f"{len(answer['messages'])} messages"
    return f"HTTP {status}"


def sample_check(scenario: Scenario, url: str, target: Target) -> str:
    """Send one request as wrk will; return a short note, or raise Skip/ScenarioFailed."""
    if scenario.is_rest:
        return _rest_sample(scenario, url, target)
    if scenario.kind == "html":
        status, page = get_page(url, target.cookie)
        if status == 404:
            raise SkipScenario(f"GET {scenario.path} answered 404 (page not built yet)")
        if status != 200:
            raise ScenarioFailed(f"GET {scenario.path} answered {status}: {page[:300]}")
        return f"{len(page):,} bytes of HTML"
    if scenario.tool is None:
        method, params = ("tools/list", {}) if scenario.kind != "reference" else ("ping", {})
    else:
        method = "tools/call"
        params = {"name": scenario.tool, "arguments": sample_arguments(scenario, target)}
    status, answer = post_rpc(url, target.token, method, params)
    if status != 200 or not isinstance(answer, dict) or "result" not in answer:
        raise ScenarioFailed(
            f"{method} {scenario.tool or ''} answered HTTP {status}: {json.dumps(answer)[:500]}"
        )
    result = answer["result"]
    if scenario.tool is not None and result.get("isError"):
        raise ScenarioFailed(
            f"{scenario.tool} returned isError: {json.dumps(result.get('structuredContent'))[:500]}"
        )
    structured = result.get("structuredContent") or {}
    if scenario.name == "tools/list":
        return f"{len(result.get('tools', []))} tools"
    if scenario.tool == "poll_events":
        events = structured.get("events") or []
        first = events[0]["id"] if events else None
        if first != target.cursor_after + 1:
            raise ScenarioFailed(
                f"poll_events from the cursor started at event {first}, "
                f"expected {target.cursor_after + 1}"
            )
        return f"{len(events)} events from id {first}"
    if scenario.tool in ("list_conversations", "search_conversations"):
        return page_sizes(scenario, url, target)
    if scenario.tool == "get_conversation":
        return f"{len(structured.get('messages', []))} messages"
    return "ok"
