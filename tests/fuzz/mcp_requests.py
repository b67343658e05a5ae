"""Valid /api/mcp requests for both protocol eras, built from the real tool schemas and the
ids of a seeded workspace, so that the mutation fuzzer starts from requests that really run.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import mcp.types as T
from hypothesis import strategies as st
from mcp.types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS

from deskwoot.mcp import registry
from tests.fuzz import strategies as S

MODERN = MODERN_PROTOCOL_VERSIONS[0]
CLIENT_INFO = {"name": "deskwoot-fuzz", "version": "1"}
META = {
    T.PROTOCOL_VERSION_META_KEY: MODERN,
    T.CLIENT_CAPABILITIES_META_KEY: {},
    T.CLIENT_INFO_META_KEY: CLIENT_INFO,
}
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
# A handful of keys, so that retries replay and reuse with other arguments conflicts.
IDEMPOTENCY_KEYS = ("fuzz-1", "fuzz-2", "fuzz-3", "x" * 255, " ~")


@dataclass(eq=False)  # hashable by identity: strategies are cached per world
class McpWorld:
    """A seeded workspace with MCP on, seen from outside: tokens and the ids to aim at."""

    tokens: dict[str, str]  # label -> plaintext
    expect: dict[str, str]  # label -> "live", "invalid" or a lock reason
    conversation_ids: list[int]
    inbox_ids: list[int]
    contact_ids: list[int]
    user_ids: list[int]
    labels: list[str]
    words: list[str]
    cursors: list[str] = field(default_factory=list)

    def auth(self, label: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[label]}"}


# --- tool arguments from the input schemas --------------------------------------------------

# Any moment from year 1 to 9999 at any UTC offset (the extremes overflow when converted to
# UTC), plus strings that look like times and are not, or not quite.
_OFFSETS = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
_TIME_EDGES = st.sampled_from(
    [
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+23:59",
        "9999-12-31T23:59:59.999999Z",
        "2016-12-31T23:59:60Z",
        "2024-02-30T00:00:00Z",
        "2024-01-01T00:00:00",
        "2024-01-01T00:00:00.1234567Z",
        "2024-01-01 00:00:00z",
        "+10000-01-01T00:00:00Z",
        "now",
    ]
)
TIMES = st.one_of(
    _TIME_EDGES,
    st.datetimes(timezones=_OFFSETS).map(datetime.isoformat),
    st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ).map(lambda moment: moment.isoformat().replace("+00:00", "Z")),
)


# Custom attributes: any JSON a client could mean, within the schema (an object of at most
# 50 keys); the service then limits key length and total size.
_ATTRIBUTE_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.sampled_from(S.EDGE_INTS)
    | st.sampled_from(S.EDGE_FLOATS)
    | S.clean_text(0, 20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(S.clean_text(0, 8), children, max_size=3)
    ),
    max_leaves=6,
)
ATTRIBUTES = st.dictionaries(
    S.clean_text(1, 10) | st.sampled_from(["x" * 64, "x" * 65, " ", "a.b", "$where"]),
    _ATTRIBUTE_VALUES,
    max_size=4,
)


def _ids(world: McpWorld, name: str) -> list[int] | None:
    return {
        "conversation_id": world.conversation_ids,
        "inbox_id": world.inbox_ids,
        "contact_id": world.contact_ids,
        "assignee_id": world.user_ids,
        "assignee": world.user_ids,
    }.get(name)


def _string(world: McpWorld, name: str, schema: dict) -> st.SearchStrategy:
    if schema.get("format") == "date-time":
        return TIMES
    if name == "idempotency_key":
        return st.sampled_from(IDEMPOTENCY_KEYS)
    if name in ("cursor", "messages_cursor") and world.cursors:
        return st.sampled_from(world.cursors) | st.text(min_size=1, max_size=40)
    if name in ("label",):
        return st.sampled_from(world.labels)
    if name in ("query",):
        return st.sampled_from(world.words)
    if name == "email":
        return st.text("abcxyz.", min_size=1, max_size=8).map(lambda local: f"{local}@example.test")
    low, high = schema.get("minLength", 0), min(schema.get("maxLength", 40), 40)
    # Also what the schema lets through and a service may not: the longest allowed value,
    # and blank text of every kind.
    edges = ["x" * schema.get("maxLength", 64), " ", "\t\n", "\u3000", "\u200b"]
    return S.clean_text(low, high) | st.sampled_from(edges)


def value_for(world: McpWorld, name: str, schema: dict) -> st.SearchStrategy:
    """A value matching `schema` (the subset our tools use), aimed at real ids and names."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema:
        return st.one_of([value_for(world, name, option) for option in schema["anyOf"]])
    kinds = schema.get("type")
    if isinstance(kinds, list):
        return st.one_of([value_for(world, name, {**schema, "type": kind}) for kind in kinds])
    if kinds == "integer":
        in_range = st.integers(schema.get("minimum", -(2**31)), schema.get("maximum", 2**31))
        real = _ids(world, name)
        whole = st.sampled_from(real) | in_range if real else in_range
        # JSON Schema counts 1.0 as an integer too, and Python clients send it.
        return whole | whole.map(float)
    if kinds == "string":
        return _string(world, name, schema)
    if kinds == "boolean":
        return st.booleans()
    if kinds == "null":
        return st.none()
    if kinds == "array":
        item = schema.get("items", {})
        if name in ("add_labels", "remove_labels"):
            element = st.sampled_from(world.labels) | value_for(world, name, item)
        else:
            element = value_for(world, name, item)
        return st.lists(
            element,
            min_size=schema.get("minItems", 0),
            max_size=min(schema.get("maxItems", 3), 3),
            unique=schema.get("uniqueItems", False),
        )
    if kinds == "object":
        if schema.get("properties"):
            return arguments_for(world, schema)
        return ATTRIBUTES
    return st.nothing()


def arguments_for(world: McpWorld, schema: dict) -> st.SearchStrategy:
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    return st.fixed_dictionaries(
        {name: value_for(world, name, sub) for name, sub in properties.items() if name in required},
        optional={
            name: value_for(world, name, sub)
            for name, sub in properties.items()
            if name not in required
        },
    )


@functools.cache
def tool_calls(world: McpWorld) -> st.SearchStrategy:
    """(name, arguments) for every registered tool, arguments valid against its schema
    (built once per world: building strategies costs far more than drawing from them)."""
    arguments = {
        spec.name: arguments_for(world, spec.input_schema) for spec in registry.visible(None)
    }
    # Hypothesis makes some cases of a batch as simple as it can (the first name, no optional
    # arguments): let that be the tool with the richest arguments rather than `whoami`.
    names = st.sampled_from(sorted(arguments, key=lambda name: name != "update_conversation"))

    @st.composite
    def call(draw) -> tuple[str, dict]:
        name = draw(names)
        return name, draw(arguments[name])

    return call()


# --- whole requests ---------------------------------------------------------------------


REQUEST_IDS = st.one_of(st.integers(0, 2**31), st.text(max_size=12), st.sampled_from([0, "0", ""]))
LEGACY_METHODS = st.sampled_from(
    ["initialize", "ping", "tools/list", "tools/call", "tools/call", "tools/call", "note"]
)
LEGACY_HEADER_VERSIONS = st.sampled_from([None, *HANDSHAKE_PROTOCOL_VERSIONS])
ASKED_VERSIONS = st.sampled_from([*HANDSHAKE_PROTOCOL_VERSIONS, MODERN, "2099-01-01"])
MODERN_METHODS = st.sampled_from(
    ["server/discover", "tools/list", "tools/call", "tools/call", "note"]
)


CALL_ONLY = st.just("tools/call")


@st.composite
def _legacy(draw, world: McpWorld, methods: st.SearchStrategy) -> tuple[dict, dict]:
    method = draw(methods)
    headers = dict(JSON_HEADERS)
    version = draw(LEGACY_HEADER_VERSIONS)
    if version is not None and method != "initialize":
        headers["MCP-Protocol-Version"] = version
    if method == "note":
        return {"jsonrpc": "2.0", "method": "notifications/initialized"}, headers
    body: dict = {"jsonrpc": "2.0", "id": draw(REQUEST_IDS), "method": method}
    if method == "initialize":
        body["params"] = {
            "protocolVersion": draw(ASKED_VERSIONS),
            "capabilities": {},
            "clientInfo": CLIENT_INFO,
        }
    elif method == "tools/call":
        name, arguments = draw(tool_calls(world))
        body["params"] = {"name": name, "arguments": arguments}
    elif draw(st.booleans()):
        body["params"] = {}
    return body, headers


@st.composite
def _modern(draw, world: McpWorld, methods: st.SearchStrategy) -> tuple[dict, dict]:
    method = draw(methods)
    headers = {**JSON_HEADERS, "MCP-Protocol-Version": MODERN}
    if method == "note":
        return {"jsonrpc": "2.0", "method": "notifications/initialized"}, headers
    headers["Mcp-Method"] = method
    params: dict = {"_meta": dict(META)}
    if method == "tools/call":
        name, arguments = draw(tool_calls(world))
        params.update(name=name, arguments=arguments)
        headers["Mcp-Name"] = name
    body = {"jsonrpc": "2.0", "id": draw(REQUEST_IDS), "method": method, "params": params}
    return body, headers


@functools.cache
def legacy_requests(world: McpWorld) -> st.SearchStrategy:
    """A valid handshake-era request (or the initialized notification) and its headers."""
    return _legacy(world, LEGACY_METHODS)


@functools.cache
def modern_requests(world: McpWorld) -> st.SearchStrategy:
    """A valid 2026-07-28 request: params._meta on every request, routing headers to match."""
    return _modern(world, MODERN_METHODS)


@functools.cache
def any_valid_request(world: McpWorld) -> st.SearchStrategy:
    return st.one_of(legacy_requests(world), modern_requests(world))


@functools.cache
def tool_call_requests(world: McpWorld) -> st.SearchStrategy:
    """A valid tools/call of any tool, in either era."""
    return st.one_of(_legacy(world, CALL_ONLY), _modern(world, CALL_ONLY))
