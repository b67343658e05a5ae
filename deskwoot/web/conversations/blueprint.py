"""The conversations blueprint, apart from its views so that the page views (the package)
and the actions (actions.py) can both import it; the app factory imports both before
registering it."""

from __future__ import annotations

from flask import current_app, request

from deskwoot.web.common import workspace_blueprint

bp = workspace_blueprint("conversations", "deskwoot.web.conversations")

# The composer's POSTs carry files: their request may be as large as the attachment limit
# plus the text. Every other request keeps the app's MAX_CONTENT_LENGTH (1 MiB).
UPLOAD_ENDPOINTS = frozenset({"conversations.reply", "conversations.note"})
TEXT_ALLOWANCE = 1024 * 1024


@bp.url_value_preprocessor
def _allow_uploads(endpoint, _values):
    # A URL value preprocessor runs before every before_request function, CSRFProtect's
    # included, and that one reads the form: the limit must be raised before it does.
    if endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = (
            int(current_app.config["ATTACHMENT_MAX_TOTAL_BYTES"]) + TEXT_ALLOWANCE
        )
