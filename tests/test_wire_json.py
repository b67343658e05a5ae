"""wire_json (orjson) writes what the standard library's compact encoder wrote: the same text
for every string, integer and structure, the same number for every float, and the standard
library's own text for what orjson refuses."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from deskwoot import wire_json
from deskwoot.mcp.untrusted import Untrusted


def _stdlib(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# What results hold: text (any storable character, control characters included), integers,
# booleans, null, nested objects and lists; floats are compared as numbers below.
_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
_LEAVES = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _TEXT
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(_VALUES)
def test_the_same_text_as_the_standard_library(value):
    assert wire_json.dumps_text(value) == _stdlib(value)
    assert wire_json.dumps(value) == _stdlib(value).encode()


@settings(max_examples=100, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_are_the_same_number(number):
    assert json.loads(wire_json.dumps({"x": number})) == {"x": number}


def test_customer_text_encodes_as_plain_text():
    assert wire_json.dumps_text({"body": Untrusted("hi\n")}) == '{"body":"hi\\n"}'


def test_what_orjson_refuses_goes_through_the_standard_library():
    big = {"seats": 10**30, "list": [2**64]}
    assert wire_json.dumps_text(big) == _stdlib(big)
    keyed = {1: "one"}
    assert wire_json.dumps(keyed) == _stdlib(keyed).encode()
