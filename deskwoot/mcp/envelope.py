"""The plain JSON-RPC requests agents send, read without pydantic (the hot path's envelope).

Nearly every request on /api/mcp is a `tools/call` with a name and arguments, or a bare
`tools/list`, in a handshake-era protocol version. For exactly those shapes this reads the
request with a few type checks instead of mcp.types' models (JSONRPCRequest, then the era's
request surface and the method's model), which cost ~30 µs a request. Anything else — an
extra key, `_meta`, a cursor, an odd id, the modern era with its header and `_meta` rules —
returns None and takes the full path in transport.py, so every rule of mcp.types still
decides every request it would have decided differently. tests/mcp/test_envelope.py proves
that whatever this accepts, mcp.types accepts with the same id, method, name and arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_KEYS = frozenset({"jsonrpc", "id", "method", "params"})
_CALL_KEYS = frozenset({"name", "arguments"})


@dataclass(frozen=True, slots=True)
class Plain:
    """A plain request: its id, its method and, for tools/call, the tool and arguments."""

    id: int | str
    method: str
    name: str | None = None
    arguments: dict[str, Any] | None = None

    @property
    def params(self) -> Plain:
        """What transport._dispatch reads of a parsed request's params: name, arguments."""
        return self


def plain(body: dict) -> Plain | None:
    """`body` as a Plain request, or None when it is not one of the plain shapes."""
    if not body.keys() <= _KEYS or body.get("jsonrpc") != "2.0":
        return None
    request_id = body.get("id")
    # JSON-RPC ids are strings or integers (mcp.types: strict int, so never a bool).
    if type(request_id) is not int and type(request_id) is not str:
        return None
    method = body.get("method")
    params = body.get("params", _ABSENT)
    if method == "tools/list":
        return Plain(request_id, method) if params is _ABSENT or params == {} else None
    if method != "tools/call" or type(params) is not dict or not params.keys() <= _CALL_KEYS:
        return None
    name = params.get("name")
    arguments = params.get("arguments", _ABSENT)
    if type(name) is not str:
        return None
    if arguments is _ABSENT:
        return Plain(request_id, method, name)
    return Plain(request_id, method, name, arguments) if type(arguments) is dict else None


_ABSENT = object()
