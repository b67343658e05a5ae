"""Fuzzing /api/mcp (ARCHITECTURE §3-6, §9): over 10,000 generated requests per run.

Every request goes through McpProbe.post, which checks the whole exchange (properties.py):
never a 5xx; a JSON-RPC 2.0 answer in JSON with exactly one of result/error (or an empty 202
for a notification); the id echoed; a valid CallToolResult for an admitted tools/call; no
domain write unless a write tool succeeded; and exactly the audit rows the answer implies.
"""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st
from mcp.types.version import HANDSHAKE_PROTOCOL_VERSIONS

from deskwoot.mcp.jsonrpc import MAX_BODY
from tests.fuzz import strategies as S
from tests.fuzz.conftest import batches, fuzz_settings
from tests.fuzz.mcp_requests import (
    JSON_HEADERS,
    MODERN,
    any_valid_request,
    legacy_requests,
    modern_requests,
    tool_call_requests,
)
from tests.mcp.helpers import tool_error

# Requests each test sends per run (before DESKWOOT_FUZZ_EXAMPLES scaling); each test asserts
# it really sent its share, so together they guarantee the promised total.
BUDGET = {
    "random_documents": 1_400,
    "mutated_legacy": 2_300,
    "mutated_modern": 1_900,
    "valid_calls": 800,  # real tool work: two or three times the cost of a refused request
    "raw_bytes": 1_500,
    "headers": 2_100,
}
assert sum(BUDGET.values()) >= 10_000

TOKEN_LABELS = ["full", "full", "full", "reader", "drafter", "restricted"]
ALL_LABELS = [*TOKEN_LABELS, "revoked", "expired", "mcp_disabled", "trial_expired", "plan_required"]
tokens = st.sampled_from(TOKEN_LABELS)


def test_random_documents(mcp_probe):
    """Arbitrary JSON (any type, any nesting, hostile strings) as the body."""
    case = st.tuples(S.json_values(), S.encodings, st.sampled_from(ALL_LABELS))

    @fuzz_settings(BUDGET["random_documents"])
    @given(batch=batches(case))
    def check(batch):
        for document, style, token in mcp_probe.each(batch):
            mcp_probe.post(S.encode(document, style), JSON_HEADERS, token)

    check()
    mcp_probe.require(BUDGET["random_documents"])


@st.composite
def mutations(draw, valid: st.SearchStrategy) -> tuple[bytes, dict]:
    body, headers = draw(valid)
    return S.encode(draw(S.mutated(body)), draw(S.encodings)), headers


def test_mutated_legacy_requests(mcp_probe):
    """Valid handshake-era requests (initialize, ping, tools/list, tools/call of real tools
    with real ids), then fields dropped, retyped, replaced, added, or the whole batched."""
    case = st.tuples(mutations(legacy_requests(mcp_probe.world)), tokens)

    @fuzz_settings(BUDGET["mutated_legacy"])
    @given(batch=batches(case))
    def check(batch):
        for (raw, headers), token in mcp_probe.each(batch):
            mcp_probe.post(raw, headers, token)

    check()
    mcp_probe.require(BUDGET["mutated_legacy"])


def test_mutated_modern_requests(mcp_probe):
    """The same for the stateless 2026-07-28 era: params._meta and the routing headers."""
    case = st.tuples(mutations(modern_requests(mcp_probe.world)), tokens)

    @fuzz_settings(BUDGET["mutated_modern"])
    @given(batch=batches(case))
    def check(batch):
        for (raw, headers), token in mcp_probe.each(batch):
            mcp_probe.post(raw, headers, token)

    check()
    mcp_probe.require(BUDGET["mutated_modern"])


def test_valid_tool_calls(mcp_probe):
    """Schema-valid calls of every tool with real and out-of-range ids, by tokens of every
    scope set: business failures must be isError results, and only successful writes write."""
    case = st.tuples(tool_call_requests(mcp_probe.world), tokens)

    @fuzz_settings(BUDGET["valid_calls"])
    @given(batch=batches(case))
    def check(batch):
        for (body, headers), token in mcp_probe.each(batch):
            mcp_probe.post(S.encode(body), headers, token)

    check()
    mcp_probe.require(BUDGET["valid_calls"])


def _near_limit(delta: int) -> bytes:
    """A well-formed tools/call whose body is exactly MAX_BODY + delta bytes."""
    head = (
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_private_note",'
        b'"arguments":{"conversation_id":1,"body":"'
    )
    tail = b'"}}}'
    return head + b"x" * (MAX_BODY + delta - len(head) - len(tail)) + tail


# A 1 MiB body costs some 20 requests' time: the four sizes around the limit come up often
# enough at one in thirty.
RAW_KINDS = st.sampled_from(["spliced"] * 20 + ["deep"] * 6 + ["empty"] * 3 + ["limit"])
EMPTYISH = st.sampled_from([b"", b" ", b"\n", b"\xef\xbb\xbf", b"null", b"{}", b"[]"])
PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}


@st.composite
def raw_bodies(draw, world) -> bytes:
    """Bytes that are almost a valid request: invalid UTF-8, raw surrogates, NaN/Infinity,
    NUL, truncation, deep nesting, and bodies at the 1 MiB limit."""
    kind = draw(RAW_KINDS)
    if kind == "spliced":
        body, _ = draw(any_valid_request(world))
        return draw(S.spliced(S.encode(body)))
    if kind == "deep":
        return draw(S.deep_documents(PING))
    if kind == "limit":
        return _near_limit(draw(st.sampled_from([-1, 0, 1, 1024])))
    return draw(EMPTYISH)


def test_raw_byte_bodies(mcp_probe):
    """Byte-level damage to valid bodies, nesting far past the limit, the 1 MiB edge."""
    case = st.tuples(raw_bodies(mcp_probe.world), st.booleans())

    @fuzz_settings(BUDGET["raw_bytes"])
    @given(batch=batches(case))
    def check(batch):
        for raw, modern in mcp_probe.each(batch):
            headers = {**JSON_HEADERS, "MCP-Protocol-Version": MODERN} if modern else JSON_HEADERS
            mcp_probe.post(raw, headers, "full")

    check()
    mcp_probe.require(BUDGET["raw_bytes"])


# --- headers -------------------------------------------------------------------------------

latin1 = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=30,
)
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json;charset=UTF-16",
    "APPLICATION/JSON",
    "application/json-rpc",
    "application/jsonx",
    "text/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "",
    ";",
    'application/json; boundary="',
]
ACCEPTS = [
    "application/json",
    "application/json, text/event-stream",
    "*/*",
    "application/*",
    "text/event-stream",
    "text/html",
    "application/json;q=0",
    "text/*",
    "",
    ",",
    ";;",
]
ALLOWED_ORIGIN = "http://localhost"  # PUBLIC_URL in the test app
ORIGINS = [
    ALLOWED_ORIGIN,
    "http://localhost:80",
    "https://localhost",
    "http://localhost.evil.example",
    "http://evil.example",
    "null",
    "",
]
VERSIONS = [
    None,
    *HANDSHAKE_PROTOCOL_VERSIONS,
    MODERN,
    MODERN,
    "2099-01-01",
    "",
    " 2025-11-25",
    "2026-07-28 ",
    "latest",
]


def _flip(token: str, at: int) -> str:
    swapped = "B" if token[at] == "A" else "A"
    return token[:at] + swapped + token[at + 1 :]


def auth_variants(world) -> list[tuple[str | None, str]]:
    """Authorization headers and what each amounts to: live, invalid, or a lock reason."""
    full = world.tokens["full"]
    basic = base64.b64encode(b"user:" + full.encode()).decode()
    return [
        *((f"Bearer {world.tokens[label]}", world.expect[label]) for label in ALL_LABELS),
        (f"bearer {full}", "live"),  # the scheme is case-insensitive (RFC 9110 §11.1)
        (f"BEARER   {full}  ", "live"),
        (None, "invalid"),
        ("", "invalid"),
        ("Bearer", "invalid"),
        ("Bearer ", "invalid"),
        (f"Basic {basic}", "invalid"),
        (f"Token {full}", "invalid"),
        (full, "invalid"),
        (f"Bearer {full[:-1]}", "invalid"),
        (f"Bearer {full}x", "invalid"),
        (f"Bearer {_flip(full, 10)}", "invalid"),  # bad checksum
        (f"Bearer {_flip(full, len(full) - 1)}", "invalid"),
        (f"Bearer {full.upper()}", "invalid"),
        (f"Bearer {full} {full}", "invalid"),
        ("Bearer dw_mcp_" + "A" * 38, "invalid"),
        ("Bearer \u00e9\u00ff" + "\u00a0" * 3, "invalid"),
    ]


def _header(name: str, options: list) -> st.SearchStrategy:
    """(name in some letter case, value) or None when the header is left out."""
    spelled = st.sampled_from([name, name.lower(), name.upper()])
    return st.one_of(st.none(), st.tuples(spelled, st.one_of(st.sampled_from(options), latin1)))


FIXED_HEADERS = [
    _header("Content-Type", CONTENT_TYPES),
    _header("Accept", ACCEPTS),
    _header("Origin", ORIGINS),
    _header("X-Request-Id", ["req-1", "r" * 100, "\u00e9t\u00e9"]),
]


def header_sets(world) -> st.SearchStrategy:
    """A valid body with a fuzzed set of headers: (raw, headers, expect, origin)."""
    auth = st.sampled_from(auth_variants(world))
    routing = st.tuples(
        st.sampled_from(VERSIONS), st.sampled_from(["tools/list", "ping", "x"]), latin1
    )

    @st.composite
    def build(draw) -> tuple[bytes, list, str, str | None]:
        body, valid = draw(any_valid_request(world))
        headers = [header for header in (draw(h) for h in FIXED_HEADERS) if header is not None]
        origin = next((value for name, value in headers if name.lower() == "origin"), None)
        other_version, other_method, noise = draw(routing)
        encoded = "=?base64?" + base64.b64encode(valid.get("Mcp-Name", "").encode()).decode()
        for name, options in (
            ("MCP-Protocol-Version", [valid.get("MCP-Protocol-Version"), other_version, noise]),
            ("Mcp-Method", [valid.get("Mcp-Method"), other_method, noise]),
            ("Mcp-Name", [valid.get("Mcp-Name"), "whoami", encoded + "?=", "=?base64?!!?=", noise]),
        ):
            value = draw(st.sampled_from([*options, None]))
            if value is not None:
                headers.append((name, value))
        authorization, expect = draw(auth)
        if authorization is not None:
            headers.append(("Authorization", authorization))
        if headers and draw(st.integers(0, 9)) == 0:  # now and then a header twice
            twice = draw(st.sampled_from(headers))
            headers.append(twice)
            # The server sees one comma-joined value: never a token, never our origin.
            if twice[0] == "Authorization":
                expect = "invalid"
            elif twice[0].lower() == "origin":
                origin = f"{twice[1]}, {twice[1]}"
        return S.encode(body), headers, expect, origin

    return build()


def test_headers(mcp_probe):
    """Content-Type, Accept, Origin, MCP-Protocol-Version, Mcp-Method/-Name and Authorization
    fuzzed around valid bodies: the gate order holds for each (bad token → 401 before
    anything, foreign Origin → 403) and every answer is still well-formed."""

    @fuzz_settings(BUDGET["headers"])
    @given(batch=batches(header_sets(mcp_probe.world)))
    def check(batch):
        for raw, headers, expect, origin in mcp_probe.each(batch):
            res = mcp_probe.post(raw, headers, token=None, expect=expect)
            if origin is not None and origin != ALLOWED_ORIGIN:
                assert res.status_code == 403, res.get_data()  # DNS rebinding: refused first

    check()
    mcp_probe.require(BUDGET["headers"])


# --- regressions: bugs this fuzzer found, pinned as plain examples ------------------------


def test_huge_non_integer_id_argument_is_a_tool_error_not_a_500(mcp_probe):
    """An id argument of the wrong type is audited with the call, and its text went into
    the 200-character audit target whole: PostgreSQL refused the row and the call was a 500."""
    arguments = {"contact_id": "x" * 5_000, "body": "hi"}
    body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call"}
    body["params"] = {"name": "add_contact_note", "arguments": arguments}
    res = mcp_probe.post(S.encode(body), JSON_HEADERS, "full")
    result = res.get_json()["result"]
    assert tool_error(result)["code"] == "invalid_arguments"


def test_accepted_notification_declares_no_html_body(mcp_probe):
    """The empty 202 for a notification carried Flask's default `text/html` Content-Type."""
    note = S.encode({"jsonrpc": "2.0", "method": "notifications/initialized"})
    res = mcp_probe.post(note, JSON_HEADERS, "full")
    assert res.status_code == 202 and res.get_data() == b""
    assert "Content-Type" not in res.headers


def test_times_beyond_the_utc_range_are_tool_errors(mcp_probe):
    """Year 9999 at -23:59 (or year 1 at +23:59) parses but has no UTC equivalent: the
    conversion blew up in the database layer, a 500 for list_conversations' updated_since and
    update_conversation's snoozed_until."""
    for moment in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"):
        for name, arguments in (
            ("list_conversations", {"updated_since": moment}),
            ("update_conversation", {"conversation_id": 1, "snoozed_until": moment}),
        ):
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call"}
            body["params"] = {"name": name, "arguments": arguments}
            result = mcp_probe.post(S.encode(body), JSON_HEADERS, "full").get_json()["result"]
            assert tool_error(result)["code"] == "invalid"


def test_integral_floats_count_as_integers(mcp_probe):
    """JSON Schema counts 1.0 as an integer, so the schemas let `"limit": 1.0` through, and
    every paginated tool then failed on the float (a 500); ids came back as 2.0."""
    for name, arguments in (
        ("list_conversations", {"limit": 1.0}),
        ("search_conversations", {"query": "refund", "limit": 1.0}),
        ("get_conversation", {"conversation_id": 1.0, "messages_limit": 1.0}),
        ("list_drafts", {"limit": 1.0}),
        ("search_contacts", {"query": "customer", "limit": 1.0}),
        ("poll_events", {"limit": 2.0}),
        ("add_private_note", {"conversation_id": 2.0, "body": "Checked the float."}),
    ):
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call"}
        body["params"] = {"name": name, "arguments": arguments}
        result = mcp_probe.post(S.encode(body), JSON_HEADERS, "full").get_json()["result"]
        assert result["isError"] is False, result
    assert type(result["structuredContent"]["conversation_id"]) is int
