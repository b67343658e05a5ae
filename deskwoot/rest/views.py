"""/api/v1: the REST API's blueprint and the view every operation shares (ARCHITECTURE §14).

One request: the bearer gate (401/403), the token's rate limit (429), the body (415/413/400),
the arguments (binding.py), then invocation.invoke — the same run, audit and charge as an MCP
tools/call — and the answer: the tool's structured result as JSON, or a problem+json
(problems.py). Nothing unexpected escapes as an HTML page: the last-resort handler logs it
and answers a problem.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import BaseConverter

from deskwoot import strict_json, wire_json
from deskwoot.database.availability import RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE, is_unavailable
from deskwoot.errors import Locked, Unauthorized
from deskwoot.extensions import csrf, db
from deskwoot.mcp import invocation
from deskwoot.rest import binding, headers
from deskwoot.rest.problems import Problem, from_service_error
from deskwoot.rest.routes import PREFIX, ROUTES, Route
from deskwoot.services.access import bearer
from deskwoot.services.access import rate_limit as ratelimit
from deskwoot.services.activity import audit_recorder as audit

bp = Blueprint("rest", __name__, url_prefix=PREFIX)
csrf.exempt(bp)  # bearer-token API, no cookies


class Digits(BaseConverter):
    """A path id: an optionally signed run of digits, passed on as text (routes.Route.rule)."""

    regex = r"-?[0-9]+"


# Before the rules that use it: a blueprint's setup steps run in the order they were recorded.
bp.record_once(lambda state: state.app.url_map.converters.setdefault("digits", Digits))

MAX_BODY = 1024 * 1024
CHALLENGE = 'Bearer realm="deskwoot", error="invalid_token"'
JSON_TYPES = ("application/json",)

BINDINGS: dict[str, binding.Binding] = {}


class _Admitted:
    """The admitted token's rate-limit state, for the headers of whatever we answer."""

    def __init__(self, rate_tat: float | None):
        self.rate_tat = rate_tat
        self.charged = False


def _view(route: Route):
    def view(**path_values: str) -> Response:
        return serve(BINDINGS[route.operation_id], path_values)

    view.__name__ = route.operation_id
    return view


def _install() -> None:
    """One URL rule per operation, each route's binding compiled once per process."""
    for route in ROUTES:
        BINDINGS[route.operation_id] = binding.compile_route(route)
        bp.add_url_rule(route.rule, route.operation_id, _view(route), methods=[route.method])


def serve(compiled: binding.Binding, path_values: dict[str, str]) -> Response:
    admitted: _Admitted | None = None
    try:
        try:
            actor, admitted = _admit()
        except Problem as problem:
            return problem.response()
        response = _serve(compiled, path_values, actor, admitted)
    except Problem as problem:
        response = problem.response()
    except RequestEntityTooLarge:
        response = Problem("payload_too_large", "The body is larger than 1 MiB.").response()
    except Exception as exc:
        response = _unexpected(exc)
    if admitted is not None:
        response.headers.update(
            headers.rate_limit(ratelimit.configured(), admitted.rate_tat, charged=admitted.charged)
        )
    return response


def _unexpected(exc: Exception) -> Response:
    db.session.rollback()
    if is_unavailable(exc):
        # The driver's words only: SQLAlchemy's message carries the statement's parameters.
        current_app.logger.warning(
            "database unavailable in /api/v1: %s", getattr(exc, "orig", None) or exc
        )
        return Problem(
            "database_unavailable",
            UNAVAILABLE_MESSAGE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            retry_after=RETRY_AFTER_SECONDS,
        ).response()
    if isinstance(exc, HTTPException) and exc.code and exc.code < 500:
        return Problem("malformed_json", exc.description or "Bad request.").response()
    # Never an HTML page or a stack trace to a client: log the trace, answer a problem.
    current_app.logger.exception("unexpected error in /api/v1")
    return Problem(
        "internal",
        "Internal error. The request was not applied; retry, and report it if it keeps happening.",
    ).response()


def _admit():
    try:
        admitted = bearer.admit(
            request.headers.get("Authorization"),
            "rest_api",
            request_id=g.get("request_id"),
            remote_addr=request.remote_addr,
        )
    except Unauthorized as refused:
        suspended = refused.reason != "invalid_token"
        # A bad token learns nothing, not even a reason; a suspended one may learn why.
        raise Problem(
            "token_suspended" if suspended else "unauthorized",
            refused.message,
            headers={"WWW-Authenticate": CHALLENGE},
        ) from None
    except Locked as locked:
        # Counted per token, reason and minute, never waiting for the write queue.
        db.session.rollback()
        audit.record_refusal(locked.actor, locked.reason, audit.REST_REFUSAL_ACTION)
        raise Problem(locked.reason, locked.message, reason=locked.reason) from None
    return admitted.actor, _Admitted(admitted.rate_tat)


def _check_rate(admitted: _Admitted) -> None:
    """Refuse a call the token has no budget for (not audited: a client hammering past its
    limit must not be able to turn that into writes)."""
    wait = ratelimit.retry_after(admitted.rate_tat, ratelimit.configured())
    if wait:
        raise Problem(
            "rate_limited",
            f"Rate limit reached for this token. Retry after {wait} s.",
            headers={"Retry-After": str(wait)},
            retry_after=wait,
        )


def _body(compiled: binding.Binding):
    """The JSON body of a writing operation ({} when there is none)."""
    if not compiled.route.takes_body:
        return None
    length = request.content_length
    if length is not None and length > MAX_BODY:
        raise Problem("payload_too_large", "The body is larger than 1 MiB.")
    raw = request.stream.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise Problem("payload_too_large", "The body is larger than 1 MiB.")
    if request.mimetype not in JSON_TYPES:
        if not raw and not request.mimetype:
            return {}
        raise Problem("unsupported_media_type", "Send the body as Content-Type: application/json.")
    if not raw.strip():
        return {}
    try:
        return strict_json.loads(raw)
    except strict_json.UnreadableJson as exc:
        if exc.in_text:
            # Valid JSON with a string we cannot store: a bad value (422), not bad JSON.
            raise Problem(
                "invalid_arguments",
                f"The body holds text Deskwoot cannot store: {exc.reason}.",
                field="body",
                errors=[{"field": "body", "in": "body", "detail": exc.reason}],
            ) from None
        raise Problem("malformed_json", f"The body cannot be read: {exc.reason}.") from None


def _serve(
    compiled: binding.Binding, path_values: dict[str, str], actor, admitted: _Admitted
) -> Response:
    _check_rate(admitted)
    body = _body(compiled)
    args, problem = binding.arguments(
        compiled, path_values, request.args, body, request.headers.get(binding.KEY_HEADER)
    )
    admitted.charged = True  # every outcome of invoke is audited and charged
    try:
        done = invocation.invoke(actor, compiled.spec, args, binding_problem=problem)
    except invocation.ScopeMissing as exc:
        raise Problem(
            "insufficient_scope",
            f"This token lacks the '{exc.scope}' scope needed for this operation. Ask an "
            "admin to mint a token with that scope.",
            headers={
                "WWW-Authenticate": f'Bearer realm="deskwoot", error="insufficient_scope", '
                f'scope="{exc.scope}"'
            },
            required_scope=exc.scope,
        ) from None
    except invocation.ArgumentsInvalid as exc:
        raise _arguments_problem(compiled, exc.problem) from None
    except invocation.CallFailed as exc:
        raise from_service_error(exc.error) from None
    except invocation.InvalidCursor as exc:
        raise Problem("invalid_cursor", exc.message, field=_cursor_param(compiled)) from None
    return _success(compiled, done)


def _cursor_param(compiled: binding.Binding) -> str:
    return compiled.route.next_cursor[1] if compiled.route.next_cursor else "cursor"


def _arguments_problem(compiled: binding.Binding, problem) -> Problem:
    if problem.unknown:
        errors = [
            {"field": name, "in": _location(compiled, name, problem.where), "detail": "unknown"}
            for name in problem.unknown
        ]
        return Problem(problem.code, problem.message, errors=errors)
    path = problem.missing or problem.where
    field = path.split("/")[0]
    where = binding.KEY_HEADER if field == binding.KEY else path
    detail = problem.message
    if field == binding.KEY:
        detail = detail.replace(binding.KEY, binding.KEY_HEADER, 1)
    return Problem(
        problem.code,
        detail,
        field=where,
        errors=[{"field": where, "in": _location(compiled, field, where), "detail": detail}],
    )


def _location(compiled: binding.Binding, name: str, where: str) -> str:
    if where in ("query", "body"):
        return where
    if name == binding.KEY_HEADER:
        return "header"
    return compiled.where(name)


def _success(compiled: binding.Binding, done: invocation.Invoked) -> Response:
    route = compiled.route
    payload = wire_json.dumps(done.structured)
    response = Response(payload, status=route.status, mimetype="application/json")
    if route.location is not None:
        response.headers["Location"] = route.location(done.structured)
    if done.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    if route.next_cursor is not None:
        field, param = route.next_cursor
        cursor = done.structured.get(field)
        if cursor:
            response.headers["Link"] = headers.next_link(request.path, request.args, param, cursor)
    if route.etag:
        tag = headers.etag(payload)
        response.headers["ETag"] = tag
        if request.if_none_match.contains_weak(tag.strip('"')):
            not_modified = Response(status=304)
            del not_modified.headers["Content-Type"]
            not_modified.headers["ETag"] = tag
            if "Link" in response.headers:
                not_modified.headers["Link"] = response.headers["Link"]
            return not_modified
    return response


_install()
