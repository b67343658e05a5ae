"""One tools/call on /api/mcp: the MCP rendering of invocation.py (ARCHITECTURE §4).

invocation.invoke runs the call (scope, arguments, idempotency, audit, rate-limit charge);
this turns its outcome into a tools/call result: success with structuredContent and a text
block, a business failure as an `isError` result, a protocol failure as a JSON-RPC error.
"""

from __future__ import annotations

import mcp_types as T

from deskwoot.http_errors import error_body
from deskwoot.mcp import gate, invocation, registry
from deskwoot.mcp.jsonrpc import INSUFFICIENT_SCOPE, RpcError
from deskwoot.mcp.untrusted import render
from deskwoot.policy import Actor


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
        invocation.audit_alone(actor, name, None, "error", "unknown tool")
        raise RpcError(
            T.INVALID_PARAMS,
            f"Unknown tool: {name}. Call tools/list to see the tools this token may use.",
            data={"reason": "unknown_tool"},
        )
    try:
        done = invocation.invoke(actor, spec, arguments or {}, text=True)
    except invocation.ScopeMissing:
        raise RpcError(
            INSUFFICIENT_SCOPE,
            f"This token lacks the '{spec.scope}' scope needed for {name}. Ask an admin to "
            "mint a token with that scope.",
            data={"reason": "insufficient_scope", "required_scope": spec.scope},
            http=403,
            headers={
                "WWW-Authenticate": gate.scope_challenge(
                    spec.scope, f"This token lacks the {spec.scope} scope needed for {name}"
                )
            },
        ) from None
    except invocation.ArgumentsInvalid as exc:
        return business_error("invalid_arguments", exc.problem.message)
    except invocation.CallFailed as exc:
        error = exc.error
        extra = {k: v for k, v in error.data.items() if isinstance(v, str | int | bool)}
        return business_error(error.code, error.message, **extra)
    except invocation.InvalidCursor as exc:
        raise RpcError(T.INVALID_PARAMS, exc.message) from None
    return result(done.text, done.structured)
