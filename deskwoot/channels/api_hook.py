"""The inbound hook: customer messages arriving on an inbox's channel (ARCHITECTURE §7).

POST /hooks/inbound/<inbox uid> with `Authorization: Bearer <inbox secret>` and JSON
{"contact": {"email"?, "name"?, "identifier"?}, "content": str, "source_id"?: str,
 "conversation_id"?: display id, "subject"?: str}. Answers JSON, always.
"""

from __future__ import annotations

import json

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import HTTPException

from deskwoot.errors import Invalid, NotFound, ServiceError
from deskwoot.extensions import csrf
from deskwoot.http_errors import json_error, json_service_error
from deskwoot.services.conversations import inbound as inbound_service
from deskwoot.services.directory import inboxes as inbox_service
from deskwoot.services.validation import unstorable

bp = Blueprint("hooks", __name__, url_prefix="/hooks")
csrf.exempt(bp)  # authenticated by the inbox secret, not a browser session

MAX_DEPTH = 16
ALLOWED_KEYS = {"contact", "content", "source_id", "conversation_id", "subject"}


CHALLENGE = {"WWW-Authenticate": 'Bearer realm="deskwoot-inbound"'}


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    # 405, 413 and friends answer in JSON like everything else on this endpoint.
    status = exc.code or 500
    headers = {401: CHALLENGE, 405: {"Allow": "POST"}}.get(status)
    code = exc.name.lower().replace(" ", "_")
    return json_error(status, code, exc.description or "", headers=headers)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _depth(value, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


def _storable(value) -> bool:
    """Whether every string and key is storable text: no NUL, no lone surrogate."""
    if isinstance(value, str):
        return unstorable(value) is None
    if isinstance(value, dict):
        return all(_storable(key) and _storable(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    return True


def _parse_body() -> dict:
    raw = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    try:
        payload = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Invalid("The body must be a JSON object.") from exc
    if not isinstance(payload, dict):
        raise Invalid("The body must be a JSON object.")
    if _depth(payload) > MAX_DEPTH:
        raise Invalid("The body is nested too deeply.")
    if not _storable(payload):
        # Refused up front, like /api/mcp does: such text can't be stored, and echoing it in
        # an error (an unknown key, say) would hand the caller JSON no strict parser accepts.
        raise Invalid("Text in the body must not contain NUL characters or lone surrogates.")
    unknown = sorted(set(payload) - ALLOWED_KEYS)
    if unknown:
        raise Invalid(f"Unknown field(s): {', '.join(unknown)}.", field=unknown[0])
    if not isinstance(payload.get("content"), str) or not payload["content"].strip():
        raise Invalid("content is required and must be non-empty text.", field="content")
    contact = payload.get("contact", {})
    if (
        not isinstance(contact, dict)
        or not all(isinstance(contact.get(k), str | None) for k in ("email", "name", "identifier"))
        or set(contact) - {"email", "name", "identifier"}
    ):
        raise Invalid(
            "contact must be an object with email, name or identifier text.", field="contact"
        )
    for key in ("source_id", "subject"):
        if payload.get(key) is not None and not isinstance(payload[key], str):
            raise Invalid(f"{key} must be text.", field=key)
    display_id = payload.get("conversation_id")
    if display_id is not None and (
        isinstance(display_id, bool)
        or not isinstance(display_id, int)
        or not 0 < display_id < 2**31
    ):
        raise Invalid("conversation_id must be a conversation number.", field="conversation_id")
    return payload


@bp.post("/inbound/<uid>")
def inbound(uid: str):
    """Accept one customer message."""
    header = request.headers.get("Authorization", "")
    secret = header[7:].strip() if header[:7].lower() == "bearer " else None
    try:
        inbox = inbox_service.authenticate_inbound(uid, secret)
    except NotFound:
        return json_error(404, "not_found", "No inbox answers at this URL.")
    except PermissionError:
        return json_error(
            401,
            "unauthorized",
            "Send the inbox secret as 'Authorization: Bearer …'.",
            headers=CHALLENGE,
        )
    try:
        payload = _parse_body()
        result = inbound_service.receive_inbound(
            inbox,
            payload.get("contact") or {},
            payload["content"],
            source_id=payload.get("source_id"),
            conversation_display_id=payload.get("conversation_id"),
            subject=payload.get("subject"),
        )
    except ServiceError as exc:
        return json_service_error(exc)
    body = {
        "conversation_id": result.conversation.display_id,
        "message_id": result.message.id,
        "contact_id": result.message.sender_contact_id,
        "duplicate": not result.created,
    }
    return jsonify(body), 201 if result.created else 200
