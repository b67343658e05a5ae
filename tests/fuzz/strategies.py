"""Hypothesis strategies for hostile input: odd text, random JSON, tree mutations, raw bytes.

Nothing here knows Deskwoot's data; the endpoint-specific builders (valid requests with real
ids) live in mcp_requests.py and test_fuzz_hook.py and are fed through these.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import strategies as st

# Text a parser or a database may choke on: lone surrogates (valid as JSON \u escapes, not as
# text), NUL (PostgreSQL refuses it), direction overrides, zero-width and non-characters,
# combining marks, astral emoji, and our own untrusted-content fence.
SURROGATES = ("\ud800", "\udbff", "\udc00", "\udfff")
ODD_CHARS = (
    "\x00",
    "\x01",
    "\x7f",
    "\u0085",
    "\u00a0",
    "\u200b",
    "\u202e",
    "\u2028",
    "\ufeff",
    "\ufffd",
    "\uffff",
    "\U0010ffff",
    "e\u0301",
    "\U0001f600",
    "\r\n",
    "\\",
    '"',
    "'",
    "<script>",
    "</untrusted-customer-text-0000>",
    "%s%n",
    "${jndi:x}",
    "' OR 1=1 --",
)
# Lengths at and just past the limits the schemas and services enforce.
EDGE_LENGTHS = (0, 1, 63, 64, 65, 200, 201, 254, 255, 256, 500, 501, 2000, 2001, 20_000, 20_001)
EDGE_INTS = (
    0,
    -1,
    1,
    2,
    2**31 - 1,
    2**31,
    -(2**31) - 1,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64,
    -(2**63) - 1,
    10**40,
)
EDGE_FLOATS = (0.0, -0.0, 1.0, 2.0, 1.5, 1e-300, 5e-324, 1e308, -1e308, 2.0**31, 100.0)


# Letters, digits, punctuation and a few non-ASCII letters, emoji and an RTL word: ordinary
# text that valid values are made of. (A fixed alphabet draws several times faster than
# st.characters() with category filters, and the hostile characters have their own strategy.)
PLAIN_ALPHABET = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;!?-_'@#()"
    "\u00e9\u00df\u00f1\u4e2d\u6587\u05e9\u05dc\u05d5\u05dd\U0001f600"
)


def clean_text(min_size: int = 0, max_size: int = 20) -> st.SearchStrategy:
    """Ordinary text (valid values get past validation and reach the code behind it)."""
    text = st.text(PLAIN_ALPHABET, min_size=min_size, max_size=max_size)
    return text.filter(str.strip) if min_size else text


odd_text = st.lists(
    st.one_of(st.text(max_size=6), st.sampled_from(SURROGATES), st.sampled_from(ODD_CHARS)),
    max_size=6,
).map("".join)
long_text = st.builds(
    lambda char, n: char * n,
    st.sampled_from(["x", "\u00e9", "\U0001f600", " "]),
    st.sampled_from(EDGE_LENGTHS),
)
texts = st.one_of(st.text(max_size=20), odd_text, long_text)
integers = st.one_of(st.integers(-3, 12), st.sampled_from(EDGE_INTS), st.integers())
floats = st.one_of(st.sampled_from(EDGE_FLOATS), st.floats(allow_nan=False, allow_infinity=False))
scalars = st.one_of(st.none(), st.booleans(), integers, floats, texts)

# Keys the endpoints look at, so random documents hit real code paths, plus arbitrary ones.
KNOWN_KEYS = (
    "jsonrpc",
    "id",
    "method",
    "params",
    "name",
    "arguments",
    "_meta",
    "protocolVersion",
    "capabilities",
    "clientInfo",
    "conversation_id",
    "contact_id",
    "inbox_id",
    "body",
    "content",
    "contact",
    "email",
    "source_id",
    "subject",
    "idempotency_key",
    "cursor",
    "limit",
    "status",
    "io.modelcontextprotocol/protocolVersion",
    "io.modelcontextprotocol/clientCapabilities",
)
keys = st.one_of(st.sampled_from(KNOWN_KEYS), texts)


def json_values(max_leaves: int = 12) -> st.SearchStrategy:
    """Any JSON document (with lone surrogates and NUL inside strings and keys)."""
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)
        ),
        max_leaves=max_leaves,
    )


# --- encoding ----------------------------------------------------------------------------


def encode(value: Any, style: str = "ascii") -> bytes:
    """JSON bytes for `value`: `ascii` writes lone surrogates as \\ud800 escapes, `raw` writes
    them as the (invalid) UTF-8 bytes of the code point, `spaced` pretty-prints."""
    if style == "ascii":
        return json.dumps(value).encode()
    if style == "spaced":
        return json.dumps(value, indent=1, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


encodings = st.sampled_from(["ascii", "raw", "spaced"])

# Byte sequences that are not valid UTF-8 or not valid JSON, to splice into good bodies.
BAD_BYTES = (
    b"\xff",
    b"\xfe\xff",
    b"\xc3\x28",
    b"\xc0\xaf",
    b"\xe2\x82",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\x00",
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e400",
    b"-1e400",
    b"\\ud800",
    b"\\udfff\\ud800",
    b"\\u0000",
    b'"\\ud83d"',
    b"0x10",
    b"01",
    b"+1",
    b".5",
    b"'x'",
    b"true",
    b"null",
    b",",
    b":",
    b"}",
    b"]",
    b"{",
    b"[",
    b'"',
    b"\\",
    b"/* c */",
    b"\xef\xbb\xbf",
)


EDIT_COUNTS = st.integers(1, 3)
BYTE_EDITS = st.sampled_from(["insert", "overwrite", "delete", "truncate"])
BAD_PIECES = st.one_of(st.sampled_from(BAD_BYTES), st.binary(min_size=1, max_size=4))


@st.composite
def spliced(draw, good: bytes) -> bytes:
    """`good` with 1-3 byte-level edits: insert, overwrite, delete or truncate."""
    data = bytearray(good)
    for _ in range(draw(EDIT_COUNTS)):
        at = draw(st.integers(0, len(data)))
        edit = draw(BYTE_EDITS)
        piece = draw(BAD_PIECES)
        if edit == "insert":
            data[at:at] = piece
        elif edit == "overwrite":
            data[at : at + len(piece)] = piece
        elif edit == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        else:
            del data[at:]
    return bytes(data)


DEPTHS = st.one_of(st.integers(1, 40), st.sampled_from([100, 1_000, 10_000, 100_000]))
NESTERS = st.sampled_from([(b"[", b"]"), (b'{"a":', b"}"), (b'{"params":[', b"]}")])


@st.composite
def deep_documents(draw, inner: Any = 1) -> bytes:
    """Arrays/objects nested around and far past any sane depth limit, as raw JSON text."""
    depth = draw(DEPTHS)
    opener, closer = draw(NESTERS)
    middle = json.dumps(inner).encode()
    if draw(st.booleans()):
        return opener * depth + middle + closer * depth
    return opener * depth + middle + closer * max(0, depth - 1)  # unbalanced as well


# --- tree mutations -----------------------------------------------------------------------

# Values that are the wrong type, or right type with a wrong value, for typical fields.
WRONG_VALUES = (
    None,
    True,
    False,
    0,
    -1,
    1.0,
    1.5,
    2**31,
    2**63,
    "",
    " ",
    "1",
    "null",
    "\x00",
    "\ud800",
    [],
    [1],
    {},
    {"": None},
    "x" * 70_000,
)
ID_VALUES = (0, -1, 1, 2**31, 2**53 + 1, 2**63, 10**30, "", "x", "\ud800", "a" * 5000, 1.0, 1.5)
ID_VALUES_INVALID = (None, True, False, [], {}, [1], {"id": 1}, 1e400)
METHODS = (
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "server/discover",
    "notifications/initialized",
    "notifications/cancelled",
    "resources/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "tools/Call",
    "tools/call ",
    "TOOLS/LIST",
    "",
    "rpc.discover",
    "\ud800",
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            out.extend(_paths(child, (*prefix, key)))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            out.extend(_paths(child, (*prefix, index)))
    return out


def _get(node: Any, path: tuple) -> Any:
    for step in path:
        node = node[step]
    return node


def _set(root: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    _get(root, path[:-1])[path[-1]] = value
    return root


def _retyped(value: Any) -> list:
    """Same meaning, other JSON type: the classic lax-parsing traps."""
    if isinstance(value, bool):
        return [int(value), str(value).lower(), None]
    if isinstance(value, int):
        return [str(value), float(value), value + 0.5, bool(value), [value], -value, None]
    if isinstance(value, str):
        out: list = ["", value + " ", value.upper(), [value], {"value": value}, None]
        if value.lstrip("-").isdigit():
            out.append(int(value))
        return out
    if isinstance(value, list):
        return [{}, value[:1] * 3, None, json.dumps(value)]
    if isinstance(value, dict):
        return [[], list(value.items())[:2], None, json.dumps(value)]
    return [0, "", {}]


SMALL_JSON = json_values(max_leaves=4)
MUTATIONS = ("drop", "retype", "hostile", "random", "extra", "id", "method", "batch")


def _pick(draw, options: list | tuple) -> Any:
    # An index rather than sampled_from(options): st.integers(0, n) is built once and cached,
    # a new sampled_from per draw costs more than the request it feeds.
    return options[draw(st.integers(0, len(options) - 1))]


@st.composite
def mutated(draw, base: Any) -> Any:
    """`base` (a valid document) with 1-3 structural edits: fields dropped, retyped, replaced
    by hostile values, extra fields added, the id or method swapped, or batch-wrapped."""
    doc = copy.deepcopy(base)
    for _ in range(draw(EDIT_COUNTS)):
        paths = _paths(doc)
        kind = _pick(draw, MUTATIONS)
        path = _pick(draw, paths)
        if kind == "drop" and path:
            parent = _get(doc, path[:-1])
            del parent[path[-1]]
        elif kind == "retype":
            doc = _set(doc, path, copy.deepcopy(_pick(draw, _retyped(_get(doc, path)))))
        elif kind == "hostile":
            # Copied, so that later edits cannot change the shared pool.
            doc = _set(doc, path, copy.deepcopy(_pick(draw, WRONG_VALUES)))
        elif kind == "random":
            doc = _set(doc, path, draw(SMALL_JSON))
        elif kind == "extra":
            dicts = [p for p in paths if isinstance(_get(doc, p), dict)]
            if dicts:
                _get(doc, _pick(draw, dicts))[draw(keys)] = draw(scalars)
        elif kind == "id" and isinstance(doc, dict):
            pool = _pick(draw, (ID_VALUES, ID_VALUES_INVALID, None))
            if pool is None:
                doc.pop("id", None)
            else:
                doc["id"] = copy.deepcopy(_pick(draw, pool))
        elif kind == "method" and isinstance(doc, dict):
            doc["method"] = _pick(draw, METHODS)
        elif kind == "batch":
            doc = _pick(draw, ([doc], [doc, doc], [], [doc, 1]))
    return doc
