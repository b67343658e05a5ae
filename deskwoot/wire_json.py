"""Compact JSON for what the agent surfaces send (MCP results, REST bodies), encoded by orjson.

The standard library's encoder was the largest single cost of answering a read after the
SQL (a get_conversation result is encoded twice: its MCP text block, then the envelope that
carries it). orjson writes the same compact text (UTF-8, no ASCII escaping, the same string
escapes) several times faster; its floats may spell an exponent differently (1e-7 for
1e-07), the same number. What it refuses — integers beyond 64 bits (a custom attribute may
hold one), non-string keys — goes through the standard library as before.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    """`value` as compact UTF-8 JSON."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def dumps_text(value: Any) -> str:
    """`value` as compact JSON text (a str, for an MCP text block)."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
