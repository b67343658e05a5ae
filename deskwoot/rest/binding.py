"""Reading a REST request into a tool's arguments (ARCHITECTURE §14).

Everything per route is worked out once per process (`Binding`): which arguments come from
the path, the query string or the body, and how a query string's text becomes the integer,
boolean or array the tool's inputSchema expects. `arguments` then turns one request into the
arguments and, when the request itself is malformed in a way the schema cannot see (a
parameter the operation does not take, one given twice), the problem to report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from deskwoot.mcp import registry
from deskwoot.mcp import tools as _tools  # noqa: F401  (importing it registers the tools)
from deskwoot.mcp.invocation import ArgumentProblem
from deskwoot.mcp.registry import ToolSpec
from deskwoot.rest.routes import Route
from deskwoot.services.validation import unstorable

KEY = "idempotency_key"
KEY_HEADER = "Idempotency-Key"
# Long enough for any id the schemas allow, short enough that int() never does real work.
_INTEGER = re.compile(r"-?[0-9]{1,20}")


@dataclass(frozen=True)
class Binding:
    route: Route
    spec: ToolSpec
    path: dict[str, dict]  # argument → its schema
    query: dict[str, dict]
    body: dict[str, dict]
    body_required: tuple[str, ...]

    @property
    def key_rule(self) -> str:
        """The tool's idempotency rule: "required", "optional" or "none"."""
        return self.spec.idempotency

    def where(self, name: str) -> str:
        """Where an argument travels: path, query, body or header."""
        if name == KEY:
            return "header"
        if name in self.path:
            return "path"
        return "query" if name in self.query else "body"


def compile_route(route: Route) -> Binding:
    spec = registry.get(route.tool)
    if spec is None:
        raise RuntimeError(f"route {route.operation_id} names unknown tool {route.tool}")
    properties = spec.input_schema.get("properties", {})
    required = spec.input_schema.get("required", [])
    for name in route.path_args:
        if name not in properties:
            raise RuntimeError(f"{route.operation_id}: the tool takes no {name}")
    rest = {n: s for n, s in properties.items() if n not in route.path_args and n != KEY}
    return Binding(
        route=route,
        spec=spec,
        path={n: properties[n] for n in route.path_args},
        query={} if route.takes_body else rest,
        body=rest if route.takes_body else {},
        body_required=tuple(n for n in required if n in rest) if route.takes_body else (),
    )


def _types(schema: dict) -> set[str]:
    kinds = schema.get("type")
    found = set(kinds if isinstance(kinds, list) else [kinds] if kinds else [])
    for option in schema.get("anyOf", ()):
        found |= _types(option)
    return found


def _scalar(schema: dict, text: str):
    """A query or path string as the value the schema expects, when it reads as one; else
    the string itself, which the schema then refuses with a message naming the parameter."""
    kinds = _types(schema)
    if "integer" in kinds and _INTEGER.fullmatch(text):
        return int(text)
    if "boolean" in kinds and text in ("true", "false"):
        return text == "true"
    return text


def _problem(where: str, message: str, unknown: list[str] | None = None) -> ArgumentProblem:
    return ArgumentProblem(where, message, unknown or [])


def _text_problem(name: str, text: str) -> ArgumentProblem | None:
    reason = unstorable(text)
    return _problem(name, f"{name}: {reason}.") if reason else None


def arguments(
    binding: Binding,
    path_values: dict[str, str],
    query: MultiDict,
    body: object,
    key: str | None,
) -> tuple[dict, ArgumentProblem | None]:
    """The tool's arguments from one request, and the first problem the schema cannot see."""
    args: dict = {}
    problem: ArgumentProblem | None = None
    for name, schema in binding.path.items():
        text = path_values[name]
        problem = problem or _text_problem(name, text)
        args[name] = _scalar(schema, text)

    unknown = sorted(name for name in query if name not in binding.query)
    if unknown:
        takes = ", ".join(binding.query) or "none"
        names = ", ".join(f"'{n}'" for n in unknown)
        problem = problem or _problem(
            "query", f"Unknown query parameter(s) {names}. This operation takes: {takes}.", unknown
        )
    for name, schema in binding.query.items():
        values = query.getlist(name)
        if not values:
            continue
        for text in values:
            problem = problem or _text_problem(name, text)
        if schema.get("type") == "array":
            items = schema.get("items", {})
            # Repeated (?types=a&types=b) or comma-separated (?types=a,b), or both.
            args[name] = [_scalar(items, part) for text in values for part in text.split(",")]
        elif len(values) > 1:
            problem = problem or _problem(name, f"{name}: give this query parameter once.")
            args[name] = values[0]
        else:
            args[name] = _scalar(schema, values[0])

    if binding.route.takes_body:
        if not isinstance(body, dict):
            problem = problem or _problem("body", "The JSON body must be an object.")
        else:
            unknown = sorted(str(name) for name in body if name not in binding.body)
            if unknown:
                takes = ", ".join(binding.body) or "none"
                names = ", ".join(f"'{n}'" for n in unknown)
                problem = problem or _problem(
                    "body",
                    f"Unknown body field(s) {names}. This operation takes: {takes}.",
                    unknown,
                )
            else:
                args.update(body)

    if key is not None:
        if binding.key_rule == "none":
            problem = problem or ArgumentProblem(
                KEY_HEADER,
                f"This operation takes no {KEY_HEADER} header; send it only on the operations "
                "that document it.",
                code="idempotency_key_unsupported",
            )
        else:
            args[KEY] = key
    elif binding.key_rule == "required":
        problem = problem or ArgumentProblem(
            KEY_HEADER,
            f"This operation requires an {KEY_HEADER} header: a unique key per intended action "
            "(e.g. a UUID), sent again unchanged when you retry, so the action happens once.",
            code="idempotency_key_required",
        )
    return args, problem
