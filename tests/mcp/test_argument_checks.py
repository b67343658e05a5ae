"""The quick argument check (jsonschema-rs) never accepts what the jsonschema library refuses,
for any tool, so an agent gets the same verdict and message as before (mcp/invocation.py)."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from deskwoot.mcp import invocation, registry, tools  # noqa: F401  (tools: registers them)

ODD_VALUES = [
    None,
    True,
    0,
    -1,
    5.0,
    1.5,
    10**30,
    "",
    "x",
    "open",
    "a\n",
    "key-1\n",
    "2026-12-05T07:38:25Z",
    "2026-13-45",
    "é" * 300,
    [],
    [1, "a"],
    ["vip"],
    {},
    {"plan": "gold"},
]


def _candidates(spec):
    """For each argument: every odd value alone, on top of arguments that may be valid."""
    properties = spec.input_schema.get("properties", {})
    yield {}
    yield {"no_such_argument": 1}
    for name in properties:
        for value in ODD_VALUES:
            yield {name: value}
            yield {**{other: 1 for other in properties if other != name}, name: value}


@pytest.mark.parametrize("name", list(registry.REGISTRY))
def test_quick_check_never_accepts_what_jsonschema_refuses(name):
    spec = registry.REGISTRY[name]
    slow = Draft202012Validator(
        spec.input_schema, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    quick = invocation._quick_check(spec)
    for args in _candidates(spec):
        if quick.is_valid(args):
            assert slow.is_valid(args), (name, args)
        # And the verdict an agent sees is jsonschema's, message included.
        problem = invocation.argument_problem(spec, args)
        assert (problem is None) == slow.is_valid(args), (name, args)
