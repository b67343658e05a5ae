"""The OpenAPI 3.1 document of /api/v1, generated from the route table and the tool registry
(ARCHITECTURE §14).

The tools' input and output schemas are JSON Schema 2020-12, which OpenAPI 3.1 adopts as its
schema dialect, so they go into the document as they are: the contract an integrator reads is
the very schema each request is validated with, and the one each MCP agent sees. Built once
per process (`document()`).
"""

from __future__ import annotations

import copy
import json
from functools import cache

from deskwoot.mcp import schemas as S
from deskwoot.rest import binding as B
from deskwoot.rest.problems import CATALOGUE, MEDIA_TYPE, type_uri
from deskwoot.rest.routes import PREFIX, ROUTES, TAGS, Route
from deskwoot.version import __version__

DESCRIPTION = """\
The Deskwoot help desk for integrators: the same data and actions as the MCP server, over
resource-oriented HTTP and JSON. Authenticate with an API token (`Authorization: Bearer
dw_api_…`, minted by an admin under Settings > API tokens); the REST API is an Enterprise
feature. Errors are RFC 9457 problem details; lists page with an opaque cursor; creating
operations take an `Idempotency-Key`; every token has a rate limit. The human-readable
reference is served at /api/v1/docs.
"""

PROBLEM = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "format": "uri-reference"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "enum": list(CATALOGUE)},
        "field": S.nullable({"type": "string"}),
        "errors": S.array(
            S.obj(
                {
                    "field": {"type": "string"},
                    "in": {"type": "string", "enum": ["path", "query", "body", "header"]},
                    "detail": {"type": "string"},
                },
                ("field", "in", "detail"),
                strict=False,
            )
        ),
        "reason": {"type": "string"},
        "required_scope": {"type": "string"},
        "retry_after": {"type": "integer"},
    },
    "required": ["type", "title", "status", "detail", "code"],
}

HEADERS = {
    "RateLimit-Policy": {
        "description": 'The token\'s sustained rate: `"default";q=<calls>;w=60` (per minute). '
        "Absent when the server runs without a rate limit.",
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left: `"default";r=<calls you may make now>;t=<seconds until '
        "the budget is full again>`. Absent when the server runs without a rate limit.",
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
        "required": True,
    },
    "Link": {
        "description": 'The next page: `<same path and filters with the cursor>; rel="next"`. '
        "Absent on the last page.",
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": "Strong entity tag of this representation; send it back in "
        "`If-None-Match` to get 304 while nothing changed.",
        "schema": {"type": "string"},
        "required": True,
    },
    "Location": {
        "description": "Where the created resource can be read.",
        "schema": {"type": "string"},
        "required": True,
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored response of an earlier request with the "
        "same Idempotency-Key (nothing new was done).",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "WWW-Authenticate": {
        "description": "The bearer challenge.",
        "schema": {"type": "string"},
        "required": True,
    },
    "Allow": {"description": "The methods the path takes.", "schema": {"type": "string"}},
}


def _ref(kind: str, name: str) -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


def _header_refs(*names: str) -> dict:
    return {name: _ref("headers", name) for name in names}


RATE = ("RateLimit-Policy", "RateLimit")


def _problem_response(code_list: str, extra_headers: tuple[str, ...] = ()) -> dict:
    return {
        "description": code_list,
        "headers": _header_refs(*RATE, *extra_headers),
        "content": {MEDIA_TYPE: {"schema": _ref("schemas", "Problem")}},
    }


def _codes(status: int) -> str:
    names = [f"`{code}`" for code, kind in CATALOGUE.items() if kind.status == status]
    return "Problem: " + ", ".join(names) + "."


RESPONSES = {
    "BadRequest": _problem_response(_codes(400)),
    "Unauthorized": {
        "description": _codes(401),
        "headers": _header_refs("WWW-Authenticate"),
        "content": {MEDIA_TYPE: {"schema": _ref("schemas", "Problem")}},
    },
    "Forbidden": {
        "description": _codes(403),
        "content": {MEDIA_TYPE: {"schema": _ref("schemas", "Problem")}},
    },
    "NotFound": _problem_response(_codes(404)),
    "Conflict": _problem_response(_codes(409)),
    "PayloadTooLarge": _problem_response(_codes(413)),
    "UnsupportedMediaType": _problem_response(_codes(415)),
    "Unprocessable": _problem_response(_codes(422)),
    "RateLimited": _problem_response(_codes(429), ("Retry-After",)),
    "Unavailable": {
        "description": _codes(503),
        "headers": _header_refs("Retry-After"),
        "content": {MEDIA_TYPE: {"schema": _ref("schemas", "Problem")}},
    },
}

PARAMETERS = {
    "IdempotencyKey": {
        "name": B.KEY_HEADER,
        "in": "header",
        "description": S.IDEMPOTENCY_KEY["description"],
        "schema": {k: v for k, v in S.IDEMPOTENCY_KEY.items() if k != "description"},
    },
    "IfNoneMatch": {
        "name": "If-None-Match",
        "in": "header",
        "required": False,
        "description": "An ETag from an earlier response: 304 Not Modified while it still holds.",
        "schema": {"type": "string"},
    },
}


def _schema_name(route: Route, suffix: str) -> str:
    return route.operation_id[:1].upper() + route.operation_id[1:] + suffix


def _parameter(name: str, schema: dict, where: str, required: bool) -> dict:
    schema = copy.deepcopy(schema)
    description = schema.pop("description", None)
    parameter = {"name": name, "in": where, "required": required, "schema": schema}
    if description:
        parameter["description"] = description
    if where == "query" and schema.get("type") == "array":
        parameter["style"], parameter["explode"] = "form", True
        parameter["description"] = (
            description or ""
        ) + " Repeat the parameter or separate values with commas."
    return parameter


def _operation(route: Route, compiled: B.Binding, components: dict) -> dict:
    spec = compiled.spec
    required = set(spec.input_schema.get("required", []))
    parameters = [_parameter(n, s, "path", True) for n, s in compiled.path.items()]
    parameters += [_parameter(n, s, "query", n in required) for n, s in compiled.query.items()]
    if spec.idempotency != "none":
        key = {**_ref("parameters", "IdempotencyKey")}
        if spec.idempotency == "required":
            # A $ref cannot be overridden in place: the required variant is spelled out.
            key = {**PARAMETERS["IdempotencyKey"], "required": True}
        parameters.append(key)
    if route.etag:
        parameters.append(_ref("parameters", "IfNoneMatch"))

    output = _schema_name(route, "Result")
    components["schemas"][output] = spec.output_schema
    success_headers = list(RATE)
    if route.location is not None:
        success_headers.append("Location")
    if route.next_cursor is not None:
        success_headers.append("Link")
    if route.etag:
        success_headers.append("ETag")
    if spec.idempotency != "none":
        success_headers.append("Idempotent-Replayed")
    responses: dict = {
        str(route.status): {
            "description": "The result (the MCP tool's structuredContent).",
            "headers": _header_refs(*success_headers),
            "content": {"application/json": {"schema": _ref("schemas", output)}},
        }
    }
    if route.etag:
        responses["304"] = {
            "description": "Not modified: the `If-None-Match` ETag still holds.",
            "headers": _header_refs(*RATE, "ETag"),
        }
    responses |= {
        "400": _ref("responses", "BadRequest"),
        "401": _ref("responses", "Unauthorized"),
        "403": _ref("responses", "Forbidden"),
        "404": _ref("responses", "NotFound"),
    }
    if route.takes_body:
        responses["409"] = _ref("responses", "Conflict")
        responses["413"] = _ref("responses", "PayloadTooLarge")
        responses["415"] = _ref("responses", "UnsupportedMediaType")
    responses |= {
        "422": _ref("responses", "Unprocessable"),
        "429": _ref("responses", "RateLimited"),
        "503": _ref("responses", "Unavailable"),
    }
    operation = {
        "operationId": route.operation_id,
        "tags": [route.tag],
        "summary": route.summary,
        "description": spec.description + _scope_note(spec.scope),
        "x-mcp-tool": spec.name,
        "x-scope": spec.scope,
        "parameters": parameters,
        "responses": responses,
    }
    if route.takes_body:
        request = _schema_name(route, "Request")
        components["schemas"][request] = S.obj(compiled.body, compiled.body_required)
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref("schemas", request)}},
        }
    return operation


def _scope_note(scope: str | None) -> str:
    if scope is None:
        return "\n\nAny valid API token."
    return f"\n\nScope: `{scope}`."


@cache
def document() -> dict:
    """The whole document (a fresh copy is not needed: callers only read it)."""
    components = {
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "dw_api_ token",
                "description": "An API token from Settings > API tokens.",
            }
        },
        "schemas": {"Problem": PROBLEM},
        "responses": RESPONSES,
        "parameters": PARAMETERS,
        "headers": HEADERS,
    }
    paths: dict = {}
    for route in ROUTES:
        compiled = B.compile_route(route)
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(
            route, compiled, components
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Deskwoot REST API",
            "version": __version__,
            "description": DESCRIPTION,
        },
        "servers": [{"url": PREFIX}],
        "security": [{"bearer": []}],
        "tags": [{"name": name, "description": text} for name, text in TAGS],
        "paths": paths,
        "components": components,
        "x-problem-types": {
            code: {"type": type_uri(code), "status": kind.status, "title": kind.title}
            for code, kind in CATALOGUE.items()
        },
    }


@cache
def encoded() -> bytes:
    """The document as served: JSON, built once per process."""
    return json.dumps(document(), ensure_ascii=False, indent=1).encode()
