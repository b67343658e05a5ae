"""The browser surface: server-rendered Jinja pages, login plumbing and error pages.

Every workspace page lives under /w/<slug>/…; `common.load_workspace` turns the slug into
`g.workspace` and `g.actor` (via policy.member_actor), so views only ever act through
`g.actor`. The app factory (deskwoot/__init__.py) installs everything here: `init_sessions`,
`assign_request_id`, each blueprint and its view modules, the template filters and globals
(filters.py, components.py), the context processors (templating.py) and the error handlers
(error_handlers.py).
"""

from __future__ import annotations

import secrets as pysecrets

from flask import g, request

from deskwoot.extensions import login_manager
from deskwoot.services.access import logins as auth_service
from deskwoot.web.cookie_session import BrowserOnlySessionInterface


def init_sessions(app) -> None:
    """The browser's session cookie and flask-login."""
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


def assign_request_id() -> None:
    """Name every request (the caller's X-Request-Id, or a fresh one) for logs and audit."""
    g.request_id = request.headers.get("X-Request-Id", "")[:64] or pysecrets.token_hex(8)
