"""Template filters, navigation context and friendly error pages for every web page."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, g, jsonify, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError

from deskwoot.database.availability import (
    RETRY_AFTER_SECONDS,
    UNAVAILABLE_MESSAGE,
    DatabaseUnavailable,
    is_unavailable,
)
from deskwoot.extensions import db
from deskwoot.models import utcnow
from deskwoot.services.conversations import drafts as draft_service
from deskwoot.services.directory import workspaces as workspace_service
from deskwoot.web import JSON_PREFIXES


def init_app(app) -> None:
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.add_template_filter(ago)
    app.add_template_filter(stamp)
    app.add_template_filter(iso)
    app.add_template_filter(initials)
    app.add_template_filter(capped)
    app.add_template_global(id_url)
    from deskwoot.web import components  # it formats with this module's filters

    for name, component in components.GLOBALS.items():
        app.add_template_global(component, name)
    app.context_processor(_navigation)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(500, _server_error)
    app.register_error_handler(DBAPIError, _database_error)
    app.register_error_handler(DatabaseUnavailable, _database_error)


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """Say how long ago `value` was, briefly: "just now", "5m", "3h", "2d", or a date."""
    if value is None:
        return ""
    seconds = int(((now or utcnow()) - value).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 86400:
        return f"{seconds // 3600}h ago"
    if seconds < 7 * 86400:
        return f"{seconds // 86400}d ago"
    return f"{value.day} {value:%b %Y}"


def stamp(value: datetime | None) -> str:
    """Format an aware UTC time for people (app.js swaps in the reader's local time)."""
    return f"{value.day} {value:%b %Y, %H:%M} UTC" if value else ""


def iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def initials(name: str | None) -> str:
    """Two letters for an avatar bubble."""
    parts = [p for p in (name or "").replace("@", " ").split() if p[:1].isalnum()]
    letters = "".join(p[0] for p in parts[:2]).upper()
    return letters or "?"


def _request_cache(name: str) -> dict:
    """A dict that lives as long as this request (tests may reuse `g` across requests)."""
    owner = request._get_current_object()
    cached = g.get(name)
    if cached is None or cached[0] is not owner:
        cached = (owner, {})
        setattr(g, name, cached)
    return cached[1]


# An id no row has, to find where a route puts the id in its URL.
_PLACEHOLDER = 987_654_321_987_654_321


def id_url(endpoint: str, **value: int) -> str:
    """url_for(endpoint, <name>=<id>) for one integer id, for pages that link every row:
    url_for (~10 µs a call) runs once per request and endpoint, and each id goes where it put
    a placeholder. The workspace comes from g, as with url_for."""
    ((name, ident),) = value.items()
    built = _request_cache("_id_urls")
    parts = built.get((endpoint, name))
    if parts is None:
        parts = built[endpoint, name] = url_for(endpoint, **{name: _PLACEHOLDER}).split(
            str(_PLACEHOLDER)
        )
    if type(ident) is not int or ident < 0 or len(parts) != 2:
        return url_for(endpoint, **value)
    return f"{parts[0]}{ident}{parts[1]}"


def capped(value: int, cap: int) -> str:
    """A count that stopped counting past `cap` (see status_counts, pending_count): "1,000+"."""
    return f"{cap:,}+" if value > cap else f"{value:,}"


# The drafts badge counts this far and no further: "99+" is as useful as 4,312 and stays cheap.
DRAFTS_BADGE_CAP = 99


def pending_drafts(actor) -> int:
    """Pending drafts for the badge, counted up to DRAFTS_BADGE_CAP + 1, once per request
    (the drafts page shows the same number; each request builds its own actor)."""
    cached = g.get("_pending_drafts")
    if cached is None or cached[0] is not actor:
        cached = g._pending_drafts = (
            actor,
            draft_service.pending_count(actor, cap=DRAFTS_BADGE_CAP + 1),
        )
    return cached[1]


def _navigation() -> dict:
    """What the layout needs: the person's workspaces, the trial banner, the drafts badge."""
    if g.get("failed") or not current_user.is_authenticated:
        return {"my_workspaces": [], "trial": None, "pending_drafts": 0}
    workspace = g.get("workspace")
    trial = None
    if workspace is not None and workspace.plan == "trial":
        trial = {"days_left": workspace_service.trial_days_left(workspace)}
    actor = g.get("actor")
    pending = pending_drafts(actor) if workspace is not None and actor else 0
    return {
        "my_workspaces": workspace_service.workspaces_for(current_user),
        "trial": trial,
        # base.html shows it as is: 0 (no badge), up to 99, then "99+"
        "pending_drafts": capped(pending, DRAFTS_BADGE_CAP) if pending else 0,
    }


def _wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES)


def _csrf_error(error):
    if _wants_json():
        return jsonify({"error": {"code": "csrf", "message": error.description}}), 400
    return render_template("errors/400.html", reason=error.description), 400


def _server_error(_error):
    # The database may be what failed: answer without touching it again.
    g.failed = True
    db.session.rollback()
    if _wants_json():
        return jsonify({"error": {"code": "internal", "message": "Internal error."}}), 500
    return _render_detached("errors/500.html"), 500


def _database_error(error):
    """503 and Retry-After while the database is read-only, full or unreachable (see
    database.is_unavailable); any other database error is a bug, for the 500 handler, which
    logs it with its trace."""
    if not is_unavailable(error):
        raise error
    # The driver's words only: SQLAlchemy's message carries the statement's parameters.
    current_app.logger.warning(
        "database unavailable on %s: %s", request.path, getattr(error, "orig", None) or error
    )
    g.failed = True
    db.session.rollback()  # the connection was discarded; the session starts over next time
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if _wants_json():
        body = {
            "error": {
                "code": "database_unavailable",
                "message": UNAVAILABLE_MESSAGE,
                "retry_after": RETRY_AFTER_SECONDS,
            }
        }
        return jsonify(body), 503, headers
    page = _render_detached("errors/503.html", retry_after=RETRY_AFTER_SECONDS)
    return page, 503, headers


def _render_detached(name: str, **context) -> str:
    """Render an error page without the context processors: flask-login's would load the
    user from the database, which may be the very thing that just failed."""
    return current_app.jinja_env.get_template(name).render(**context)
