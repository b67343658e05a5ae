"""Web blueprints (server-rendered Jinja), login plumbing and the inbound hook.

Every workspace page lives under /w/<slug>/…; `load_workspace` turns the slug into `g.workspace`
and `g.actor` (via policy.member_actor), so views only ever act through `g.actor`.
"""

from __future__ import annotations

import secrets as pysecrets

from flask import abort, g, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user

from deskwoot import policy
from deskwoot.errors import NotFound
from deskwoot.extensions import db, login_manager
from deskwoot.models import Workspace
from deskwoot.services.access import logins as auth_service
from deskwoot.web.cookie_session import BEARER_ONLY_PREFIXES, BrowserOnlySessionInterface

JSON_PREFIXES = BEARER_ONLY_PREFIXES  # the bearer-token endpoints answer in JSON, always


def init_app(app) -> None:
    app.session_interface = BrowserOnlySessionInterface()
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Log in to continue."
    login_manager.login_message_category = "info"
    # Sessions are server-side rows (services.auth); flask-login's own remember-me and
    # session protection are not needed on top.
    login_manager.session_protection = None

    @login_manager.user_loader
    def _load(session_id: str):
        return auth_service.load_user(session_id)

    from deskwoot.channels import api_hook as hooks
    from deskwoot.web import auth, contacts, conversations, drafts, settings

    for bp in (auth.bp, conversations.bp, contacts.bp, drafts.bp, settings.bp, hooks.bp):
        app.register_blueprint(bp)

    app.context_processor(_template_globals)
    app.register_error_handler(404, _not_found)
    app.register_error_handler(NotFound, _not_found)
    # Routing errors happen before a blueprint is chosen: machine endpoints still get JSON.
    app.register_error_handler(405, _method_not_allowed)

    @app.before_request
    def _request_id():
        g.request_id = request.headers.get("X-Request-Id", "")[:64] or pysecrets.token_hex(8)


def load_workspace(slug: str) -> None:
    """Resolve /w/<slug>/: the logged-in teammate's workspace and actor, else 404."""
    ws = db.session.execute(db.select(Workspace).where(Workspace.slug == slug)).scalar_one_or_none()
    if ws is None or not current_user.is_authenticated:
        abort(404)
    try:
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


def _template_globals() -> dict:
    return {
        "workspace": g.get("workspace"),
        "actor": g.get("actor"),
    }


def _not_found(_error):
    if request.path.startswith(JSON_PREFIXES):
        return jsonify({"error": {"code": "not_found", "message": "Not found."}}), 404
    return render_template("errors/404.html"), 404


def _method_not_allowed(error):
    if request.path.startswith(JSON_PREFIXES):
        response = jsonify(
            {"error": {"code": "method_not_allowed", "message": "Use POST on this endpoint."}}
        )
        response.status_code = 405
        response.headers["Allow"] = "POST"
        return response
    return error


def home_redirect():
    """Send a logged-in person to their (last) workspace."""
    from deskwoot.services.directory.workspaces import workspaces_for

    memberships = workspaces_for(current_user)
    if not memberships:
        return redirect(url_for("auth.login"))
    slugs = [ws.slug for ws, _ in memberships]
    slug = session.get("last_workspace")
    return redirect(url_for("conversations.index", workspace=slug if slug in slugs else slugs[0]))
