"""The conversations blueprint, apart from its views so that the page views (the package)
and the actions (actions.py) can both import it; the app factory imports both before
registering it."""

from __future__ import annotations

from deskwoot.web.common import workspace_blueprint

bp = workspace_blueprint("conversations", "deskwoot.web.conversations")
