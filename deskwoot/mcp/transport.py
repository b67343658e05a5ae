"""POST /api/mcp: JSON-RPC over HTTP, both protocol eras, JSON responses only (ARCHITECTURE §9).

- 2025-11-25 and older ("handshake" era): initialize, notifications/initialized, ping,
  tools/list, tools/call. Stateless: no Mcp-Session-Id, any request may come first.
- 2026-07-28 ("modern"): chosen when MCP-Protocol-Version is present and not a handshake
  version; mcp.shared.inbound checks params._meta and the Mcp-Method/Mcp-Name headers.
The SDK's pure pieces (mcp_types, mcp_types.methods, and mcp.shared.inbound loaded by
sdk_inbound.py) validate and serialize; the SDK's async server runtime is not used (nor
imported) inside Flask.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import mcp_types as T
from flask import Blueprint, Response, current_app, request
from mcp_types import methods as M
from mcp_types.version import (
    HANDSHAKE_PROTOCOL_VERSIONS,
    LATEST_HANDSHAKE_VERSION,
    MODERN_PROTOCOL_VERSIONS,
)
from pydantic import ValidationError

from deskwoot import wire_json
from deskwoot.database.availability import RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE, is_unavailable
from deskwoot.errors import Locked, Unauthorized
from deskwoot.extensions import csrf, db
from deskwoot.mcp import (
    calls,
    envelope,
    gate,
    registry,
    tools,  # noqa: F401  (registers them)
)
from deskwoot.mcp.jsonrpc import (
    DATABASE_UNAVAILABLE,
    MAX_BODY,
    RpcError,
    error_response,
    json_response,
    strict_loads,
)
from deskwoot.mcp.sdk_inbound import (
    ERROR_CODE_HTTP_STATUS,
    InboundLadderRejection,
    classify_inbound_request,
    unsupported_protocol_version_rejection,
)
from deskwoot.mcp.untrusted import INSTRUCTIONS
from deskwoot.policy import Actor
from deskwoot.services.activity import audit_recorder as audit
from deskwoot.version import __version__

bp = Blueprint("mcp", __name__)
csrf.exempt(bp)  # bearer-token API, no cookies

DUMP = {"by_alias": True, "exclude_none": True, "mode": "json"}
SERVER_INFO = T.Implementation(name="deskwoot", title="Deskwoot help desk", version=__version__)
ALLOW = {"Allow": "POST"}
_SERVER_META = {T.SERVER_INFO_META_KEY: SERVER_INFO.model_dump(**DUMP)}


def _capabilities() -> T.ServerCapabilities:
    return T.ServerCapabilities(tools=T.ToolsCapability(list_changed=False))


def allowed_origins() -> set[str]:
    """The configured public origin plus any extra ones (DNS-rebinding protection)."""
    origins = set(current_app.config.get("MCP_ALLOWED_ORIGINS") or [])
    public = urlsplit(current_app.config["PUBLIC_URL"])
    origins.add(f"{public.scheme}://{public.netloc}")
    return origins


@bp.route("/api/mcp", methods=["GET", "DELETE", "PUT", "PATCH"])
def wrong_method() -> Response:
    """Only POST: no SSE stream to open (GET) and no session to end (DELETE)."""
    error = RpcError(
        T.INVALID_REQUEST,
        "Use POST with a JSON-RPC body; this server answers in JSON and keeps no sessions.",
        http=405,
        headers=ALLOW,
    )
    return error_response(None, error, 405)


@bp.post("/api/mcp")
def endpoint() -> Response:
    """Serve one JSON-RPC message."""
    try:
        return _serve()
    except RpcError as error:
        return error_response(None, error, error.http or 400)
    except Exception as exc:
        if is_unavailable(exc):  # e.g. in the gate, before the request's id is known
            return _database_unavailable(None, exc)
        # Never an HTML page or a bare 500 here: log the trace, answer JSON-RPC -32603.
        current_app.logger.exception("unexpected error in /api/mcp")
        db.session.rollback()
        error = RpcError(
            T.INTERNAL_ERROR,
            "Internal error. The request was not applied; "
            "retry, and report it if it keeps happening.",
        )
        return error_response(None, error, 500)


def _check_http() -> None:
    origin = request.headers.get("Origin")
    if origin is not None and origin not in allowed_origins():
        raise RpcError(T.INVALID_REQUEST, "Origin not allowed.", http=403)
    accept = request.headers.get("Accept")
    if accept and not any(
        part.split(";")[0].strip() in ("application/json", "application/*", "*/*")
        for part in accept.split(",")
    ):
        raise RpcError(
            T.INVALID_REQUEST,
            "Accept must include application/json: this server answers in JSON only.",
            http=406,
        )


def _read_body() -> Any:
    if request.mimetype != "application/json":
        raise RpcError(T.INVALID_REQUEST, "Content-Type must be application/json.", http=415)
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise RpcError(T.INVALID_REQUEST, "The body is larger than 1 MiB.", http=413)
    raw = request.stream.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise RpcError(T.INVALID_REQUEST, "The body is larger than 1 MiB.", http=413)
    return strict_loads(raw)


def _serve() -> Response:
    _check_http()
    try:
        actor = gate.admit()
    except Unauthorized as refused:
        raise gate.rpc_error(refused) from None
    except Locked as locked:
        _audit_refusal(locked)
        raise gate.rpc_error(locked) from None
    body = _read_body()
    header_version = request.headers.get("MCP-Protocol-Version")
    modern = header_version is not None and header_version not in HANDSHAKE_PROTOCOL_VERSIONS

    if not isinstance(body, dict):
        raise RpcError(
            T.INVALID_REQUEST,
            "The body must be one JSON-RPC object; batches are not supported.",
            http=400,
        )
    if "id" not in body:
        return _notification(body, modern, header_version)
    fast = None if modern else envelope.plain(body)  # the common shapes, without pydantic
    if fast is not None:
        request_id, method = fast.id, fast.method
    else:
        try:
            checked = T.JSONRPCRequest.model_validate(body)
        except ValidationError as exc:
            raise RpcError(
                T.INVALID_REQUEST,
                "Invalid JSON-RPC request: it needs jsonrpc '2.0', "
                "a string or integer id, and a method.",
                http=400,
            ) from exc
        request_id, method = checked.id, checked.method

    def status_for(code: int) -> int:
        return ERROR_CODE_HTTP_STATUS.get(code, 200) if modern else 200

    try:
        version = _version(body, modern, header_version)
        parsed = fast if fast is not None else _parse(method, version, checked.params)
        result = _dispatch(actor, method, parsed, version)
        if isinstance(result, Encoded):  # already JSON bytes: splice them in, as they are
            return Response(
                b'{"jsonrpc":"2.0","id":' + wire_json.dumps(request_id) + b',"result":'
                b"" + result + b"}",
                mimetype="application/json",
            )
        return json_response(
            {"jsonrpc": "2.0", "id": request_id, "result": _serialize(method, version, result)}
        )
    except RpcError as error:
        return error_response(request_id, error, error.http or status_for(error.code))
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        return _database_unavailable(request_id, exc)


def _parse(method: str, version: str, params: dict | None):
    """The request checked against the era's surface and parsed by mcp.types."""
    try:
        return M.parse_client_request(method, version, params)
    except KeyError as exc:
        raise RpcError(T.METHOD_NOT_FOUND, "Method not found", data=method) from exc
    except ValidationError as exc:
        message = "Invalid request parameters: " + _first_error(exc)
        raise RpcError(T.INVALID_PARAMS, message) from exc


def _database_unavailable(request_id, exc: Exception) -> Response:
    """503 with Retry-After while the database is read-only, full or unreachable: nothing was
    applied, and the same request will work once it is back (database.is_unavailable)."""
    # The driver's words only: SQLAlchemy's message carries the statement's parameters.
    current_app.logger.warning(
        "database unavailable in /api/mcp: %s", getattr(exc, "orig", None) or exc
    )
    db.session.rollback()  # the connection was discarded; the session starts over next time
    error = RpcError(
        DATABASE_UNAVAILABLE,
        UNAVAILABLE_MESSAGE,
        data={"reason": "database_unavailable", "retry_after": RETRY_AFTER_SECONDS},
        http=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
    return error_response(request_id, error, 503)


def _version(body: dict, modern: bool, header_version: str | None) -> str:
    if not modern:
        return header_version or T.DEFAULT_NEGOTIATED_VERSION
    headers = {k.lower(): v.strip() for k, v in request.headers.items()}
    verdict = classify_inbound_request(body, headers=headers)
    if isinstance(verdict, InboundLadderRejection):
        raise RpcError(verdict.code, verdict.message, data=verdict.data)
    return verdict.protocol_version


def _notification(body: dict, modern: bool, header_version: str | None) -> Response:
    try:
        T.JSONRPCNotification.model_validate(body)
    except ValidationError as exc:
        raise RpcError(T.INVALID_REQUEST, "Invalid JSON-RPC notification.", http=400) from exc
    if modern:
        rejection = unsupported_protocol_version_rejection(header_version)
        if rejection is not None:
            raise RpcError(rejection.code, rejection.message, data=rejection.data, http=400)
    accepted = Response(status=202)
    del accepted.headers["Content-Type"]  # no body, so no type: never Flask's text/html default
    return accepted


def _dispatch(actor: Actor, method: str, parsed, version: str) -> T.Result | dict | Encoded:
    if method == "initialize":
        asked = parsed.params.protocol_version
        return T.InitializeResult(
            protocol_version=asked
            if asked in HANDSHAKE_PROTOCOL_VERSIONS
            else LATEST_HANDSHAKE_VERSION,
            capabilities=_capabilities(),
            server_info=SERVER_INFO,
            instructions=INSTRUCTIONS,
        )
    if method == "ping":
        return T.EmptyResult()
    if method == "server/discover":
        return T.DiscoverResult(
            supported_versions=list(MODERN_PROTOCOL_VERSIONS),
            capabilities=_capabilities(),
            instructions=INSTRUCTIONS,
            ttl_ms=0,
            cache_scope="private",
        )
    if method == "tools/list":
        return _tools_list(actor.scopes, version)
    if method == "tools/call":
        return calls.call(actor, parsed.params.name, parsed.params.arguments)
    raise RpcError(T.METHOD_NOT_FOUND, "Method not found", data=method)


def _tools_list(scopes: frozenset[str] | None, version: str) -> Encoded:
    """tools/list for a scope set, built once per worker: the tool set is fixed at import,
    and the list varies only with the scopes (so it is `cacheScope: private`)."""
    key = (scopes, version)
    if key not in _TOOLS_LIST_CACHE:
        listed = T.ListToolsResult(
            tools=[spec.as_tool() for spec in registry.visible(scopes)],
            ttl_ms=0,
            cache_scope="private",
        )
        _TOOLS_LIST_CACHE[key] = Encoded(
            json.dumps(
                _serialize("tools/list", version, listed), separators=(",", ":"), ensure_ascii=False
            ).encode()
        )
    return _TOOLS_LIST_CACHE[key]


class Encoded(bytes):
    """A result that is already JSON, as UTF-8 bytes: the tools/list answer is some 48 KB, and
    encoding it again on every request cost more than the rest of the envelope (~50 µs)."""


_TOOLS_LIST_CACHE: dict[tuple, Encoded] = {}


def _serialize(method: str, version: str, result: T.Result | dict) -> dict:
    if isinstance(result, dict):
        # Already wire-shaped (tools/call results, cached lists): stamp the modern fields only.
        out = dict(result)
        if version in MODERN_PROTOCOL_VERSIONS and method == "tools/call":
            out["resultType"] = "complete"
            out["_meta"] = _SERVER_META
        return out
    out = M.serialize_server_result(method, version, result.model_dump(**DUMP))
    if version in MODERN_PROTOCOL_VERSIONS:
        out.setdefault("resultType", "complete")
        out["_meta"] = {
            **out.get("_meta", {}),
            T.SERVER_INFO_META_KEY: SERVER_INFO.model_dump(**DUMP),
        }
    return out


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "params"
    return f"{where}: {first.get('msg', 'invalid')}"


def _audit_refusal(locked: Locked) -> None:
    """Record a known token's request refused by plan, trial or the MCP switch (a 401 has
    no workspace to record it in): counted per token, reason and minute, never waiting
    for the write queue (see audit.record_refusal)."""
    db.session.rollback()
    audit.record_refusal(locked.actor, locked.reason)
