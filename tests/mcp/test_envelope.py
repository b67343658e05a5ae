"""The plain-request reader (mcp/envelope.py) agrees with mcp.types: whatever it accepts,
JSONRPCRequest and the era's parse_client_request accept too, with the same id, method, tool
name and arguments; and it accepts the shapes agents actually send."""

from __future__ import annotations

import mcp.types as T
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp.types import methods as M
from mcp.types.version import HANDSHAKE_PROTOCOL_VERSIONS

from deskwoot.mcp.envelope import plain

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_MAYBE = st.one_of(_JSON, st.just("2.0"), st.just("tools/call"), st.just("tools/list"))
_PARAMS = st.one_of(
    _JSON,
    st.fixed_dictionaries(
        {"name": _MAYBE},
        optional={"arguments": _JSON, "_meta": _JSON, "cursor": _JSON, "task": _JSON},
    ),
)
_BODIES = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": _MAYBE,
        "id": _MAYBE,
        "method": _MAYBE,
        "params": _PARAMS,
        "extra": _JSON,
    },
)

# Near-plain requests, so that many examples take the fast path.
_NEAR = st.fixed_dictionaries(
    {
        "jsonrpc": st.just("2.0"),
        "id": st.one_of(st.integers(), st.text(max_size=5), st.booleans()),
        "method": st.sampled_from(["tools/call", "tools/list"]),
    },
    optional={"params": _PARAMS},
)


def _full_path(body: dict, version: str):
    checked = T.JSONRPCRequest.model_validate(body)
    return checked, M.parse_client_request(checked.method, version, checked.params)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_BODIES, _NEAR), st.sampled_from(HANDSHAKE_PROTOCOL_VERSIONS))
def test_whatever_the_fast_reader_accepts_mcp_types_accepts_alike(body, version):
    fast = plain(body)
    if fast is None:
        return
    checked, parsed = _full_path(body, version)  # raises if mcp.types would refuse
    assert (fast.id, fast.method) == (checked.id, checked.method)
    assert type(fast.id) is type(checked.id)
    if fast.method == "tools/call":
        assert (fast.name, fast.arguments) == (parsed.params.name, parsed.params.arguments)


@pytest.mark.parametrize(
    "body",
    [
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": "a", "method": "tools/list", "params": {}},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "whoami"}},
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "get_conversation", "arguments": {"conversation_id": 5}},
        },
    ],
)
def test_the_shapes_agents_send_take_the_fast_path(body):
    fast = plain(body)
    assert fast is not None and fast.id == body["id"]


@pytest.mark.parametrize(
    "body",
    [
        {"jsonrpc": "2.0", "id": True, "method": "tools/list"},  # a bool is no id
        {"jsonrpc": "2.0", "id": 1.0, "method": "tools/list"},
        {"jsonrpc": "1.0", "id": 1, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"cursor": "x"}},
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": 5}},
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "x", "_meta": {}}},
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"arguments": {}}},
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "x", "arguments": None},
        },
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "extra": 1},
    ],
)
def test_everything_else_takes_the_full_path(body):
    assert plain(body) is None
