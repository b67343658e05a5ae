"""Running one tool call for any surface (ARCHITECTURE §3-6, §14): scope, argument validation,
idempotency, audit, the rate-limit charge. The MCP server (calls.py) and the REST API
(deskwoot/rest) both call `invoke` and render what it returns or raises in their own medium,
so a call has the same effect, the same audit row and the same cost on either surface.

Writes run in one transaction with their audit entry (and idempotency key); reads run in a
read transaction and are audited right after. A business failure rolls the effect back and is
audited on its own as `denied` (not found / not allowed) or `error` (invalid / conflict).
Every refusal raised from here has already been audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import jsonschema_rs
from sqlalchemy.exc import IntegrityError

from deskwoot.database.prebuilt import SessionUsedWhileReadingAlone, read_alone, write_alone
from deskwoot.database.transactions import retry_transient, write_transaction
from deskwoot.errors import Conflict, Forbidden, NotFound, ServiceError
from deskwoot.extensions import db
from deskwoot.mcp import registry
from deskwoot.mcp.cursors import InvalidCursor
from deskwoot.mcp.registry import ToolContext, ToolSpec
from deskwoot.mcp.untrusted import remark, render
from deskwoot.policy import Actor
from deskwoot.services.access import rate_limit as ratelimit
from deskwoot.services.activity import audit_recorder as audit
from deskwoot.services.activity import idempotency

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

__all__ = [
    "ArgumentsInvalid",
    "CallFailed",
    "InvalidCursor",
    "Invoked",
    "ScopeMissing",
    "audit_alone",
    "invoke",
    "validator",
]


@dataclass(frozen=True)
class Invoked:
    """A call that ran: the structured result (the tool's outputSchema), the MCP text block
    when asked for, and whether it was an idempotent replay."""

    structured: dict
    text: str | None
    replayed: bool


class ScopeMissing(Exception):
    """The token lacks the tool's scope."""

    def __init__(self, scope: str):
        super().__init__(scope)
        self.scope = scope


@dataclass
class ArgumentProblem:
    """Where the arguments are wrong (`where`: "arguments" or a path like "contact/email"),
    and what is wrong, in words; `unknown` names arguments the tool does not take. `code` is
    the stable error code (a surface may find a more specific one while binding a request)."""

    where: str
    message: str
    unknown: list[str] = field(default_factory=list)
    code: str = "invalid_arguments"
    missing: str | None = None  # the path of a required argument that is absent


class ArgumentsInvalid(Exception):
    def __init__(self, problem: ArgumentProblem):
        super().__init__(problem.message)
        self.problem = problem


class CallFailed(Exception):
    """The service refused (not found, invalid, conflict, a human took over…)."""

    def __init__(self, error: ServiceError):
        super().__init__(error.message)
        self.error = error


_validators: dict[str, Draft202012Validator] = {}
_quick_checks: dict[str, jsonschema_rs.Validator] = {}


def validator(spec: ToolSpec) -> Draft202012Validator:
    """The tool's inputSchema validator, built once per process. The jsonschema library is
    imported here, on the first invalid call: valid arguments never need it (_quick_check
    answers them), and it costs each worker a few MB."""
    from jsonschema import Draft202012Validator

    if spec.name not in _validators:
        _validators[spec.name] = Draft202012Validator(
            spec.input_schema, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
    return _validators[spec.name]


def _quick_check(spec: ToolSpec) -> jsonschema_rs.Validator:
    """The tool's inputSchema compiled by jsonschema-rs, once per process: a yes/no answer in
    a few microseconds where the jsonschema library takes tens. Only its "valid" is taken as
    final; anything else goes to `validator` for the verdict and the message an agent reads.
    It is never more lenient than `validator` on our schemas (formats checked, and its `$`
    does not match before a trailing newline as Python's re does), so this changes no answer
    (tests/mcp/test_argument_checks.py)."""
    if spec.name not in _quick_checks:
        _quick_checks[spec.name] = jsonschema_rs.Draft202012Validator(
            spec.input_schema, validate_formats=True
        )
    return _quick_checks[spec.name]


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


def argument_problem(spec: ToolSpec, args: dict) -> ArgumentProblem | None:
    """Where the arguments break the tool's inputSchema, and a message an agent can act on.

    A misspelt argument name shows up twice: as an unexpected property and, when it replaced a
    required one, as a missing property. JSON Schema's best match reports only the latter,
    which hides the typo, so arguments the tool does not know are always named first."""
    if _quick_check(spec).is_valid(args):
        return None
    from jsonschema.exceptions import best_match

    problem = best_match(validator(spec).iter_errors(args))
    if problem is None:
        return None
    known = spec.input_schema.get("properties", {})
    unknown = sorted(str(key) for key in args if key not in known)
    if unknown:
        names = ", ".join(f"'{key}'" for key in unknown)
        expected = ", ".join(known) or "none"
        return ArgumentProblem(
            "arguments", f"Unknown argument(s) {names}. This tool takes: {expected}.", unknown
        )
    where = "/".join(str(part) for part in problem.absolute_path) or "arguments"
    missing = None
    if problem.validator == "required" and isinstance(problem.instance, dict):
        absent = [name for name in problem.validator_value if name not in problem.instance]
        if absent:
            missing = "/".join([*(str(p) for p in problem.absolute_path), absent[0]])
    return ArgumentProblem(where, f"{where}: {problem.message}", missing=missing)


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
    """Every tool call leaves one audit entry and costs one unit of the token's rate limit,
    both in the caller's write transaction."""
    audit.record_fast(
        actor, action[:64], target=target, outcome=outcome, detail=(detail or "")[:500] or None
    )
    ratelimit.spend(actor.token_id)


def audit_alone(
    actor: Actor, action: str, target: str | None, outcome: str, detail: str | None = None
) -> None:
    """Account for a call that wrote nothing else (a read, or a refused write) in its own short
    write transaction, the same rows as `_account` writes, on a pooled connection of its own
    rather than through the session (prebuilt.write_alone). The read snapshot (or failed
    transaction) before it is ended first: on SQLite a write transaction still open on the
    session would wait for this one, and this one for it."""
    db.session.rollback()
    entry = audit.statement(
        actor, action[:64], target=target, outcome=outcome, detail=(detail or "")[:500] or None
    )
    charge = ratelimit.spend_statement(actor.token_id)
    write_alone([entry] if charge is None else [entry, charge])


def invoke(
    actor: Actor,
    spec: ToolSpec,
    arguments: dict,
    *,
    text: bool = False,
    binding_problem: ArgumentProblem | None = None,
) -> Invoked:
    """Run `spec` for `actor` with `arguments`, or raise ScopeMissing, ArgumentsInvalid,
    CallFailed or InvalidCursor (each audited). `binding_problem` is what the surface found
    wrong while reading the request into arguments (REST: a query parameter given twice…):
    it is reported, and audited, where an argument problem would be — after the scope check.
    `text` asks for the MCP text block as well."""
    args = _whole_numbers(spec, arguments)
    target = _target(spec, args)
    if not registry.allowed(spec, actor.scopes):
        audit_alone(actor, spec.name, target, "denied", f"missing scope {spec.scope}")
        raise ScopeMissing(spec.scope)
    problem = binding_problem or argument_problem(spec, args)
    if problem is not None:
        audit_alone(actor, spec.name, target, "error", f"invalid arguments: {problem.where}")
        raise ArgumentsInvalid(problem)
    ctx = ToolContext(actor=actor, tool=spec)
    try:
        return retry_transient(lambda: _run(ctx, spec, args, target, text))
    except ServiceError as exc:
        outcome = "denied" if isinstance(exc, NotFound | Forbidden) else "error"
        audit_alone(actor, spec.name, target, outcome, exc.message)
        raise CallFailed(exc) from exc
    except InvalidCursor as exc:
        audit_alone(actor, spec.name, target, "error", exc.message)
        raise
    except IntegrityError as exc:
        # A concurrent writer changed the same thing first (a unique index caught it).
        audit_alone(actor, spec.name, target, "error", "concurrent change")
        raise CallFailed(
            Conflict(
                "Something this call depends on changed at the same moment. Re-read it and retry."
            )
        ) from exc


def _rendered(result: dict, text: bool) -> tuple[str | None, dict]:
    return render(result) if text else (None, result)


def _read(ctx: ToolContext, spec: ToolSpec, args: dict, text: bool) -> tuple[str | None, dict]:
    """A read-only tool's result, read in one snapshot: on a connection of its own when the
    tool is flagged reads_alone (prebuilt.read_alone), else on the session. A few argument
    combinations of such a tool still read through the ORM (a teammate looked up by id):
    read_alone refuses that, and the whole read runs again on the session — it wrote
    nothing, so nothing of the first try is kept."""
    if spec.reads_alone:
        try:
            with read_alone():
                return _rendered(spec.handler(ctx, args), text)
        except SessionUsedWhileReadingAlone:
            db.session.rollback()
    return _rendered(spec.handler(ctx, args), text)


def _run(ctx: ToolContext, spec: ToolSpec, args: dict, target: str | None, text: bool) -> Invoked:
    actor = ctx.actor
    key = args.get("idempotency_key")
    if spec.read_only:
        block, structured = _read(ctx, spec, args, text)
        audit_alone(actor, spec.name, target, "ok")
        return Invoked(structured, block, False)
    if key is not None:
        rendered: dict = {}

        def effect() -> dict:
            rendered["text"], structured = _rendered(spec.handler(ctx, args), text)
            return structured

        def record(outcome: idempotency.Outcome) -> None:
            _account(actor, spec.name, target, "replayed" if outcome.replayed else "ok")

        outcome = idempotency.run_once(actor, spec.name, key, args, effect, on_commit=record)
        block = rendered.get("text")
        if text and block is None:
            block = render(remark(outcome.result))[0]
        return Invoked(outcome.result, block, outcome.replayed)
    with write_transaction():
        block, structured = _rendered(spec.handler(ctx, args), text)
        _account(actor, spec.name, target, "ok")
    return Invoked(structured, block, False)
