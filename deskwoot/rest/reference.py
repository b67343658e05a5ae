"""GET /api/v1/openapi.json and GET /api/v1/docs: the contract and its human-readable
reference, both from the same generated document (openapi.py), served without a token and
without any CDN: the page is rendered here with Jinja and the app's own stylesheet, and needs
no JavaScript."""

from __future__ import annotations

import json
import shlex
from functools import cache

from flask import Response, current_app, render_template
from markupsafe import Markup, escape

from deskwoot.rest.openapi import document, encoded
from deskwoot.rest.problems import CATALOGUE, type_uri
from deskwoot.rest.routes import PREFIX, ROUTES, TAGS
from deskwoot.rest.views import bp

# A request per operation that shows its shape in the curl example: (query, body).
EXAMPLES: dict[str, tuple[dict, dict | None]] = {
    "listConversations": ({"status": "open", "assignee": "unassigned", "limit": 25}, None),
    "searchConversations": ({"query": "refund"}, None),
    "getConversation": ({"messages_limit": 20}, None),
    "updateConversation": (
        {},
        {"status": "pending", "priority": "high", "add_labels": ["billing"]},
    ),
    "replyToConversation": ({}, {"body": "Thanks! Your refund is on its way."}),
    "addPrivateNote": ({}, {"body": "Customer asked twice; refund approved by finance."}),
    "assignConversation": ({}, {"assignee_id": 7}),
    "escalateToHuman": ({}, {"reason": "Asks for a refund above the bot's limit."}),
    "startConversation": (
        {},
        {
            "inbox_id": 1,
            "contact": {"email": "ada@example.com", "name": "Ada Lovelace"},
            "subject": "Your order",
            "body": "Hello Ada, your order has shipped.",
        },
    ),
    "createDraftReply": (
        {},
        {"body": "We have refunded you in full.", "note_to_reviewer": "Check the amount."},
    ),
    "listDrafts": ({"status": "pending"}, None),
    "searchContacts": ({"query": "ada@example.com"}, None),
    "createContact": ({}, {"name": "Ada Lovelace", "email": "ada@example.com"}),
    "updateContact": ({}, {"phone": "+44 20 7946 0000", "custom_attributes": {"tier": "gold"}}),
    "addContactNote": ({}, {"body": "Prefers email over phone."}),
    "pollEvents": ({"types": "message.created,conversation.updated"}, None),
}
PATH_EXAMPLES = {"conversation_id": 42, "contact_id": 17}


@bp.app_template_filter("code_spans")
def code_spans(text: str) -> Markup:
    """`name` in the document's descriptions as <code>name</code>; everything else escaped."""
    parts = str(text).split("`")
    return Markup("").join(
        Markup("<code>{}</code>").format(part) if n % 2 else escape(part)
        for n, part in enumerate(parts)
    )


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return Response(encoded(), mimetype="application/json")


@bp.get("/docs")
def docs() -> str:
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    return render_template(
        "rest/docs.html",
        doc=document(),
        base=base,
        prefix=PREFIX,
        groups=_groups(base),
        problems=[(code, kind, type_uri(code)) for code, kind in CATALOGUE.items()],
    )


def _groups(base: str) -> list[dict]:
    return [
        {"name": name, "description": text, "operations": _operations(base, name)}
        for name, text in TAGS
    ]


def _operations(base: str, tag: str) -> list[dict]:
    return [
        dict(_operation(route.operation_id), curl=_curl(base, route.operation_id))
        for route in ROUTES
        if route.tag == tag
    ]


@cache
def _operation(operation_id: str) -> dict:
    doc = document()
    route = next(r for r in ROUTES if r.operation_id == operation_id)
    op = doc["paths"][route.path][route.method.lower()]
    parameters = [_resolve(doc, p) for p in op["parameters"]]
    body = None
    if "requestBody" in op:
        body = _fields(doc, op["requestBody"]["content"]["application/json"]["schema"])
    responses = []
    for status, response in op["responses"].items():
        response = _resolve(doc, response)
        content = response.get("content", {})
        media, schema = next(iter(content.items()), (None, None))
        responses.append(
            {
                "status": status,
                "description": response["description"],
                "media": media,
                "headers": list(response.get("headers", {})),
                "fields": _fields(doc, schema) if media == "application/json" else None,
            }
        )
    return {
        "id": operation_id,
        "method": route.method,
        "path": route.path,
        "summary": op["summary"],
        "description": op["description"],
        "tool": op["x-mcp-tool"],
        "scope": op["x-scope"],
        "parameters": [
            {
                "name": p["name"],
                "in": p["in"],
                "required": p.get("required", False),
                "type": _type(doc, p["schema"]),
                "description": p.get("description", ""),
            }
            for p in parameters
        ],
        "body": body,
        "responses": responses,
    }


def _resolve(doc: dict, node: dict) -> dict:
    while "$ref" in node:  # always "#/components/<kind>/<name>" in our document
        _, kind, name = node["$ref"].removeprefix("#/").split("/")
        node = doc["components"][kind][name]
    return node


def _fields(doc: dict, schema: dict | None, prefix: str = "", depth: int = 0) -> list[dict]:
    """The fields of an object schema as rows (nested objects and arrays of objects flattened
    with dotted names, three levels deep)."""
    if schema is None:
        return []
    schema = _object_of(_resolve(doc, schema))
    if schema is None:
        return []
    rows = []
    required = set(schema.get("required", []))
    for name, sub in schema.get("properties", {}).items():
        sub = _resolve(doc, sub)
        rows.append(
            {
                "name": prefix + name,
                "type": _type(doc, sub),
                "required": name in required,
                "description": _notes(sub),
            }
        )
        nested = _object_of(sub)
        if nested is not None and nested.get("properties") and depth < 2:
            suffix = "[]." if _is_array(sub) else "."
            rows += _fields(doc, nested, prefix + name + suffix, depth + 1)
    return rows


def _is_array(schema: dict) -> bool:
    return schema.get("type") == "array" or any(
        o.get("type") == "array" for o in schema.get("anyOf", ())
    )


def _object_of(schema: dict) -> dict | None:
    """The object schema inside `schema` (itself, an array's items, a nullable branch)."""
    if schema.get("type") == "object":
        return schema
    if schema.get("type") == "array":
        return _object_of(schema.get("items", {}))
    for option in schema.get("anyOf", ()):
        found = _object_of(option)
        if found is not None:
            return found
    return None


def _type(doc: dict, schema: dict) -> str:
    schema = _resolve(doc, schema)
    if "anyOf" in schema:
        return " | ".join(_type(doc, option) for option in schema["anyOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type(doc, schema.get('items', {}))}"
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    if "format" in schema:
        return f"{kind} ({schema['format']})"
    return kind


def _notes(schema: dict) -> str:
    notes = [schema["description"]] if schema.get("description") else []
    limits = {
        "minimum": "≥ {}",
        "maximum": "≤ {}",
        "minLength": "at least {} characters",
        "maxLength": "at most {} characters",
        "maxItems": "at most {} items",
        "maxProperties": "at most {} keys",
    }
    for key, text in limits.items():
        if key in schema and not (key == "minLength" and schema[key] == 1):
            notes.append(text.format(schema[key]))
    return "; ".join(notes)


def _curl(base: str, operation_id: str) -> str:
    op = _operation(operation_id)
    query, body = EXAMPLES.get(operation_id, ({}, None))
    path = op["path"]
    for name, value in PATH_EXAMPLES.items():
        path = path.replace("{" + name + "}", str(value))
    url = base + PREFIX + path
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    lines = [
        f"curl -sS {'-X ' + op['method'] + ' ' if op['method'] != 'GET' else ''}{shlex.quote(url)}"
    ]
    lines.append('  -H "Authorization: Bearer $DESKWOOT_API_TOKEN"')
    if any(p["name"] == "Idempotency-Key" for p in op["parameters"]):
        lines.append('  -H "Idempotency-Key: $(uuidgen)"')
    if op["method"] != "GET":
        lines.append('  -H "Content-Type: application/json"')
        lines.append("  -d " + shlex.quote(json.dumps(body or {})))
    return " \\\n".join(lines)
