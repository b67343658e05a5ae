"""Strict JSON for request bodies: the one parser /api/mcp and /api/v1 both read with.

Python's json module accepts NaN and Infinity, lone surrogates and any nesting depth; none of
those can be stored (PostgreSQL refuses NUL and lone surrogates) or sent back as strict JSON,
and deep nesting is only a way to make a server work. Each is refused with a reason the
surface words in its own medium (a JSON-RPC parse error, a problem+json 400).
"""

from __future__ import annotations

import json
from typing import Any

from deskwoot.services.validation import unstorable

MAX_DEPTH = 32


class UnreadableJson(ValueError):
    """The body is not JSON we accept; `reason` says why, in a few words. `in_text`: the JSON
    itself is fine, but a string in it (NUL, a lone surrogate) cannot be stored."""

    def __init__(self, reason: str, in_text: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.in_text = in_text


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def loads(raw: bytes | str) -> Any:
    """Parse JSON, refusing NaN/Infinity, lone surrogates, NUL and deep nesting."""
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise UnreadableJson("the body is not valid JSON") from exc
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise UnreadableJson(f"nesting deeper than {MAX_DEPTH} levels")
        if isinstance(node, str):
            _check_text(node)
        elif isinstance(node, dict):
            for key, item in node.items():
                _check_text(key)
                stack.append((item, depth + 1))
        elif isinstance(node, list):
            stack.extend((item, depth + 1) for item in node)
    return value


def _check_text(text: str) -> None:
    problem = unstorable(text)
    if problem is not None:
        raise UnreadableJson(problem, in_text=True)
