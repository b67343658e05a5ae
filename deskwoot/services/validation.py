"""Small input checks shared by services."""

from __future__ import annotations

import json

from deskwoot.errors import Invalid

MAX_BODY = 20_000
MAX_ATTRIBUTES_BYTES = 16_384
# ASCII digits and the usual phone punctuation, spelled out: str.isdigit() and regex \d
# also accept other scripts' digits ("١٢٣", fullwidth "１２３"), which look like a number
# but match nothing an exact phone search or a dialler would type.
PHONE_CHARACTERS = frozenset("0123456789+-() .")


def unstorable(text: str) -> str | None:
    """Why a string cannot be stored or sent back as strict JSON (NUL, lone surrogates), or
    None. One rule for every entry point: /api/mcp and the inbound hook refuse such text."""
    if "\x00" in text:
        return "NUL characters are not accepted"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "lone surrogates are not valid text"
    return None


def text(value: str | None, field: str, *, max_len: int, required: bool = False) -> str | None:
    """Strip a text field; enforce presence and length."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Invalid(f"{field} must be text.", field=field)
    value = value.strip()
    if "\x00" in value:
        raise Invalid(f"{field} contains a NUL character.", field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates cannot be stored (PostgreSQL refuses)
        raise Invalid(f"{field} is not valid Unicode text.", field=field) from exc
    if required and not value:
        raise Invalid(f"{field} must not be empty.", field=field)
    if len(value) > max_len:
        raise Invalid(f"{field} is longer than {max_len} characters.", field=field)
    return value or None


def phone(value: str | None, field: str = "phone") -> str | None:
    """A phone number (the one rule for MCP, the web form and every other entry point)."""
    value = text(value, field, max_len=40)
    if value and not PHONE_CHARACTERS.issuperset(value):
        raise Invalid(f"{field} may hold the digits 0-9, spaces and + - ( ) . only.", field=field)
    return value


def body(value: str | None, field: str = "body") -> str:
    return text(value, field, max_len=MAX_BODY, required=True)


def attributes(value, field: str = "custom_attributes") -> dict:
    """Custom attributes: a flat-ish JSON object of modest size with string keys."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"{field} must be an object.", field=field)
    for key in value:
        if not isinstance(key, str) or not key.strip() or len(key) > 64:
            raise Invalid(f"{field} keys must be text of 1-64 characters.", field=field)
    try:
        encoded = json.dumps(value, allow_nan=False)
    except ValueError as exc:
        raise Invalid(f"{field} must be plain JSON values.", field=field) from exc
    if len(encoded) > MAX_ATTRIBUTES_BYTES:
        raise Invalid(f"{field} is too large (max {MAX_ATTRIBUTES_BYTES} bytes).", field=field)
    return value


def merge_attributes(current: dict | None, changes: dict) -> dict:
    """Apply changes to custom attributes: a null value removes the key."""
    merged = dict(current or {})
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return attributes(merged)
