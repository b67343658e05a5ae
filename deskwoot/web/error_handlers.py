"""The answers for requests that fail outside a view's own handling: friendly pages for the
browser, the JSON error body (deskwoot/http_errors.py) for the machine endpoints. The app
factory registers HANDLERS."""

from __future__ import annotations

from flask import current_app, g, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError

from deskwoot.database.availability import (
    RETRY_AFTER_SECONDS,
    UNAVAILABLE_MESSAGE,
    DatabaseUnavailable,
    is_unavailable,
)
from deskwoot.errors import NotFound
from deskwoot.extensions import db
from deskwoot.http_errors import json_error
from deskwoot.rest import problems as rest_problems
from deskwoot.rest.routes import PREFIX as REST_PREFIX
from deskwoot.web.cookie_session import BEARER_ONLY_PREFIXES

JSON_PREFIXES = BEARER_ONLY_PREFIXES  # the bearer-token endpoints answer in JSON, always


def _wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES)


def _rest() -> bool:
    """Under /api/v1 every error is a problem+json (deskwoot/rest/problems.py)."""
    return request.path == REST_PREFIX or request.path.startswith(REST_PREFIX + "/")


def not_found(_error):
    if _rest():
        return rest_problems.routing(404)
    if _wants_json():
        return json_error(404, "not_found", "Not found.")
    return render_template("errors/404.html"), 404


def method_not_allowed(error):
    # Routing errors happen before a blueprint is chosen: machine endpoints still get JSON.
    if _rest():
        return rest_problems.routing(405, getattr(error, "valid_methods", None))
    if _wants_json():
        return json_error(
            405, "method_not_allowed", "Use POST on this endpoint.", headers={"Allow": "POST"}
        )
    return error


def csrf_error(error):
    if _wants_json():
        return json_error(400, "csrf", error.description)
    return render_template("errors/400.html", reason=error.description), 400


def server_error(_error):
    # The database may be what failed: answer without touching it again.
    g.failed = True
    db.session.rollback()
    if _wants_json():
        return json_error(500, "internal", "Internal error.")
    return _render_detached("errors/500.html"), 500


def database_error(error):
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
        return json_error(
            503,
            "database_unavailable",
            UNAVAILABLE_MESSAGE,
            headers=headers,
            retry_after=RETRY_AFTER_SECONDS,
        )
    page = _render_detached("errors/503.html", retry_after=RETRY_AFTER_SECONDS)
    return page, 503, headers


def _render_detached(name: str, **context) -> str:
    """Render an error page without the context processors: flask-login's would load the
    user from the database, which may be the very thing that just failed."""
    return current_app.jinja_env.get_template(name).render(**context)


HANDLERS = (
    (404, not_found),
    (NotFound, not_found),
    (405, method_not_allowed),
    (CSRFError, csrf_error),
    (500, server_error),
    (DBAPIError, database_error),
    (DatabaseUnavailable, database_error),
)
