"""Running one tools/call: scope, argument validation, idempotency, audit (ARCHITECTURE §3-6).

Writes run in one transaction with their audit entry (and idempotency key); reads run in a
read transaction and are audited right after. A business failure rolls the effect back and is
audited on its own as `denied` (not found / not allowed) or `error` (invalid / conflict).
"""

from __future__ import annotations

import mcp.types as T
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from sqlalchemy.exc import IntegrityError

from deskwoot.database.transactions import retry_transient, write_transaction
from deskwoot.errors import Forbidden, NotFound, ServiceError
from deskwoot.extensions import db
from deskwoot.http_errors import error_body
from deskwoot.mcp import gate, registry
from deskwoot.mcp.jsonrpc import INSUFFICIENT_SCOPE, RpcError
from deskwoot.mcp.registry import ToolContext, ToolSpec
from deskwoot.mcp.untrusted import remark, render
from deskwoot.policy import Actor
from deskwoot.services.access import rate_limit as ratelimit
from deskwoot.services.activity import audit_recorder as audit
from deskwoot.services.activity import idempotency

_validators: dict[str, Draft202012Validator] = {}


def _validator(spec: ToolSpec) -> Draft202012Validator:
    if spec.name not in _validators:
        _validators[spec.name] = Draft202012Validator(
            spec.input_schema, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
    return _validators[spec.name]


def _whole_numbers(spec: ToolSpec, args: dict) -> dict:
    """The arguments with integral floats as ints where the schema says integer.

    JSON Schema counts 1.0 as an integer, so `"limit": 5.0` is valid; left a float it failed
    deep inside a tool (a list slice, SQL LIMIT) as a 500, or came back as "id": 5.0."""
    properties = spec.input_schema.get("properties", {})
    return {
        name: int(value)
        if isinstance(value, float) and value.is_integer() and _is_integer(properties.get(name))
        else value
        for name, value in args.items()
    }


def _is_integer(schema: dict | None) -> bool:
    if not schema:
        return False
    kinds = schema.get("type")
    if kinds == "integer" or (isinstance(kinds, list) and "integer" in kinds):
        return True
    return any(_is_integer(option) for option in schema.get("anyOf", ()))


def _argument_problem(spec: ToolSpec, args: dict) -> tuple[str, str] | None:
    """Where the arguments break the tool's inputSchema, and a message an agent can act on.

    A misspelt argument name shows up twice: as an unexpected property and, when it replaced a
    required one, as a missing property. JSON Schema's best match reports only the latter,
    which hides the typo, so arguments the tool does not know are always named first."""
    problem = best_match(_validator(spec).iter_errors(args))
    if problem is None:
        return None
    known = spec.input_schema.get("properties", {})
    unknown = sorted(str(key) for key in args if key not in known)
    if unknown:
        names = ", ".join(f"'{key}'" for key in unknown)
        expected = ", ".join(known) or "none"
        return "arguments", f"Unknown argument(s) {names}. This tool takes: {expected}."
    where = "/".join(str(part) for part in problem.absolute_path) or "arguments"
    return where, f"{where}: {problem.message}"


def _target(spec: ToolSpec, args: dict) -> str | None:
    for name, kind in spec.id_args.items():
        if args.get(name) is not None:
            # Cut to the column's width: invalid arguments are audited too, and a 1 MiB
            # "id" would otherwise make PostgreSQL refuse the audit row (a 500).
            return f"{kind} {args[name]}"[:200]
    return None


def _account(
    actor: Actor, action: str, target: str | None, outcome: str, detail: str | None = None
) -> None:
    """Every tools/call leaves one audit entry and costs one unit of the token's rate limit,
    both in the caller's write transaction."""
    audit.record_fast(
        actor, action[:64], target=target, outcome=outcome, detail=(detail or "")[:500] or None
    )
    ratelimit.spend(actor.token_id)


def _audit_alone(
    actor: Actor, action: str, target: str | None, outcome: str, detail: str | None = None
) -> None:
    """Account for a call that wrote nothing else (a read, or a refused write) in its own short
    write transaction; the read snapshot (or failed transaction) before it is ended first."""
    db.session.rollback()
    with write_transaction():
        _account(actor, action, target, outcome, detail)


def result(text: str, structured: dict) -> dict:
    """A successful tools/call result on the wire, built directly: it is the hottest path we
    serve. `structured` conforms to the tool's outputSchema."""
    return {
        "content": [{"type": "text", "text": text}],
        "structuredContent": structured,
        "isError": False,
    }


def business_error(code: str, message: str, **data) -> dict:
    """A business failure (not found, invalid, conflict…) as an `isError` result.

    It carries no `structuredContent`: the spec says structured results conform to the tool's
    outputSchema, and an error does not. Clients that validate it anyway (the TypeScript SDK
    v1 client, the Inspector) would otherwise replace our message with their own schema
    complaint. The `{"error": {"code", "message", …}}` object travels as JSON in the text block,
    which every client shows the model as-is.
    """
    text, _ = render(error_body(code, message, **data))
    return {"content": [{"type": "text", "text": text}], "isError": True}


def call(actor: Actor, name: str, arguments: dict | None) -> dict:
    """Run a tool for `actor`; JSON-RPC failures raise RpcError, business ones return isError."""
    gate.check_rate(actor)
    spec = registry.get(name)
    if spec is None:
        _audit_alone(actor, name, None, "error", "unknown tool")
        raise RpcError(
            T.INVALID_PARAMS,
            f"Unknown tool: {name}. Call tools/list to see the tools this token may use.",
            data={"reason": "unknown_tool"},
        )
    args = _whole_numbers(spec, arguments or {})
    target = _target(spec, args)
    if not registry.allowed(spec, actor.scopes):
        _audit_alone(actor, name, target, "denied", f"missing scope {spec.scope}")
        raise RpcError(
            INSUFFICIENT_SCOPE,
            f"This token lacks the '{spec.scope}' scope needed for {name}. Ask an admin to "
            "mint a token with that scope.",
            data={"reason": "insufficient_scope", "required_scope": spec.scope},
            http=403,
            headers={
                # error_description carries our message to clients that surface only the
                # challenge (the v2 TypeScript client turns a 403 into InsufficientScopeError).
                "WWW-Authenticate": f'Bearer realm="deskwoot", '
                f'error="insufficient_scope", scope="{spec.scope}", '
                f'error_description="This token lacks the {spec.scope} scope needed for {name}"'
            },
        )
    problem = _argument_problem(spec, args)
    if problem is not None:
        where, message = problem
        _audit_alone(actor, name, target, "error", f"invalid arguments: {where}")
        return business_error("invalid_arguments", message)
    ctx = ToolContext(actor=actor, tool=spec)
    try:
        return retry_transient(lambda: _run(ctx, spec, args, target))
    except ServiceError as exc:
        outcome = "denied" if isinstance(exc, NotFound | Forbidden) else "error"
        _audit_alone(actor, name, target, outcome, exc.message)
        extra = {k: v for k, v in exc.data.items() if isinstance(v, str | int | bool)}
        return business_error(exc.code, exc.message, **extra)
    except RpcError as exc:
        _audit_alone(actor, name, target, "error", exc.message)
        raise
    except IntegrityError:
        # A concurrent writer changed the same thing first (a unique index caught it).
        _audit_alone(actor, name, target, "error", "concurrent change")
        return business_error(
            "conflict",
            "Something this call depends on changed at the same moment. Re-read it and retry.",
        )


def _run(ctx: ToolContext, spec: ToolSpec, args: dict, target: str | None) -> dict:
    actor = ctx.actor
    key = args.get("idempotency_key")
    if spec.read_only:
        text, structured = render(spec.handler(ctx, args))  # while the snapshot is open
        _audit_alone(actor, spec.name, target, "ok")
        return result(text, structured)
    if key is not None:
        rendered: dict = {}

        def effect() -> dict:
            rendered["text"], structured = render(spec.handler(ctx, args))
            return structured

        def record(outcome: idempotency.Outcome) -> None:
            _account(actor, spec.name, target, "replayed" if outcome.replayed else "ok")

        outcome = idempotency.run_once(actor, spec.name, key, args, effect, on_commit=record)
        text = rendered.get("text") or render(remark(outcome.result))[0]
        return result(text, outcome.result)
    with write_transaction():
        text, structured = render(spec.handler(ctx, args))
        _account(actor, spec.name, target, "ok")
    return result(text, structured)
