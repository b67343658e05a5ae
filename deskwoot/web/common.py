"""Plumbing shared by the workspace blueprints: URLs, login gate, errors, redirects, paging.

Every workspace page lives under /w/<slug>/…; `load_workspace` turns the slug into
`g.workspace` and `g.actor` (via policy.member_actor), so views only ever act through `g.actor`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, g, redirect, request, session, url_for
from flask_login import current_user

from deskwoot import policy
from deskwoot.errors import NotFound, ServiceError
from deskwoot.extensions import login_manager
from deskwoot.services.directory import workspaces as workspace_service
from deskwoot.services.directory.workspaces import workspaces_for

PER_PAGE = 25
MAX_PAGE = 10_000


def workspace_blueprint(name: str, import_name: str, url_prefix: str = "") -> Blueprint:
    """Make a blueprint under /w/<workspace>/… that loads g.workspace and g.actor."""
    bp = Blueprint(name, import_name, url_prefix="/w/<workspace>" + url_prefix)

    @bp.url_value_preprocessor
    def _pull_workspace(_endpoint, values):
        g.workspace_slug = (values or {}).pop("workspace", None)

    @bp.url_defaults
    def _push_workspace(_endpoint, values):
        if "workspace" not in values and g.get("workspace") is not None:
            values["workspace"] = g.workspace.slug

    @bp.before_request
    def _require_member():
        if not current_user.is_authenticated:
            if request.method == "GET":
                return login_manager.unauthorized()
            return redirect(url_for("auth.login"))
        load_workspace(g.workspace_slug)
        return None

    return bp


def load_workspace(slug: str) -> None:
    """Resolve /w/<slug>/: the logged-in teammate's workspace and actor, else 404."""
    if not current_user.is_authenticated:
        abort(404)
    try:
        ws = workspace_service.get_by_slug(slug)
        g.actor = policy.member_actor(
            current_user,
            ws,
            via="web",
            request_id=g.get("request_id"),
            remote_addr=request.remote_addr,
        )
    except NotFound:
        abort(404)
    g.workspace = ws
    if session.get("last_workspace") != slug:  # writing it re-signs and re-sends the cookie
        session["last_workspace"] = slug


def home_redirect():
    """Send a logged-in person to their (last) workspace."""
    memberships = workspaces_for(current_user)
    if not memberships:
        return redirect(url_for("auth.login"))
    slugs = [ws.slug for ws, _ in memberships]
    slug = session.get("last_workspace")
    return redirect(url_for("conversations.index", workspace=slug if slug in slugs else slugs[0]))


def flash_error(error: ServiceError) -> None:
    """Show a service's refusal to the person, in its own words."""
    flash(error.message, "error")


def place_error(form, error: ServiceError, flash_fields: tuple[str, ...] = ()) -> None:
    """Show a service error next to the form field it names, or else as a flash message."""
    name = getattr(error, "field", None) or error.data.get("field") or ""
    field = getattr(form, name, None) if name not in flash_fields else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [error.message]
    else:
        flash_error(error)


def flash_form_errors(form) -> None:
    """Flash the first problem of each invalid field, named by its label."""
    for name, errors in form.errors.items():
        field = getattr(form, name, None)
        label = field.label.text if field is not None and name != "csrf_token" else "Form"
        message = errors[0] if isinstance(errors[0], str) else "is not valid."
        flash(f"{label}: {message}", "error")


def safe_next(target: str | None) -> str | None:
    """Return `target` only when it is a path on this site (never another host)."""
    target = (target or "").strip()
    parts = urlsplit(target)
    if (
        not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or parts.scheme
        or parts.netloc
    ):
        return None
    return target


def page_arg() -> int:
    """The 1-based page number from the query string, clamped to something sane."""
    page = request.args.get("page", type=int) or 1
    return max(1, min(page, MAX_PAGE))


def int_arg(name: str) -> int | None:
    return parse_id(request.args.get(name))


def parse_id(raw: str | None) -> int | None:
    """A database id typed or posted as text, or None when it is not one."""
    raw = (raw or "").strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        return None
    return int(raw)


def parse_local_datetime(value: datetime | None, tz_offset_minutes: int | None) -> datetime | None:
    """Turn a browser's datetime-local value into an aware UTC time.

    The browser sends wall-clock time without a zone; app.js adds the zone offset in a hidden
    field, and without JavaScript we read the time as UTC (the form says so).
    """
    if value is None:
        return None
    offset = max(-14 * 60, min(14 * 60, tz_offset_minutes or 0))
    return value.replace(tzinfo=timezone(timedelta(minutes=offset))).astimezone(UTC)
