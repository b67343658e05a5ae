"""Downloading a message's attachment, and what the composer says when its files are too big.

A file a customer sent is hostile until proven otherwise: it is always a download
(`Content-Disposition: attachment`), with a type no browser renders as a page
(attachments.download_type), `nosniff`, and a `sandbox` CSP in case anything displays it
anyway. Reach is the conversation's (policy.get_attachment): out of reach is not found.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import current_app, flash, g, redirect, request, send_file, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from deskwoot.services.conversations import attachments
from deskwoot.web.conversations.blueprint import UPLOAD_ENDPOINTS, bp


def content_disposition(filename: str) -> str:
    """`attachment` with the name twice: RFC 6266's UTF-8 `filename*`, and a plain ASCII
    `filename` for old clients (no quote, backslash or control character can break out)."""
    fallback = "".join(
        ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\;' else "_" for ch in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@bp.get("/attachments/<int:attachment_id>")
def attachment(attachment_id: int):
    """One attachment's bytes, as a download (NotFound → the 404 page)."""
    row, path = attachments.open_for_download(g.actor, attachment_id)
    response = send_file(
        path, mimetype=attachments.download_type(row.content_type), conditional=False
    )
    response.headers["Content-Disposition"] = content_disposition(row.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error):
    """More than the composer's raised limit (blueprint.py) could not even be read, so the
    text is gone with it; the composer's script refuses such files before they are sent.
    Any other action over the app's limit gets the plain 413."""
    if request.endpoint not in UPLOAD_ENDPOINTS:
        return error
    limit = int(current_app.config["ATTACHMENT_MAX_TOTAL_BYTES"]) // (1024 * 1024)
    flash(f"The files were too large to send: at most {limit} MB together.", "error")
    # Before the workspace was loaded (CSRFProtect read the form first): name it ourselves.
    slug = g.get("workspace_slug")
    display_id = (request.view_args or {}).get("display_id")
    if display_id is None:
        return redirect(url_for("conversations.index", workspace=slug))
    return redirect(
        url_for("conversations.show", workspace=slug, display_id=display_id, _anchor="composer")
    )
